/** Test-only: in-process nodes (SQLite store + API + dispatcher + relay) on loopback. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Envelope } from "@xmtp-ts/proto";
import { createMessageApi, type MessageApiService } from "../api/service.js";
import { createDispatcher } from "../dispatch/dispatcher.js";
import type { Dispatcher } from "../dispatch/types.js";
import { createSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/types.js";
import { loadOrCreateNodeKey } from "./node-key.js";
import { createRelay, type Relay } from "./relay.js";

type Ingest = (e: Envelope[], source: "relay" | "sync") => Promise<void>;

export interface TestNode {
  dir: string;
  store: Store;
  dispatcher: Dispatcher;
  api: MessageApiService;
  relay: Relay;
  /** The loopback multiaddr with `/p2p/<id>`. */
  addr: string;
  stop(): Promise<void>;
}

export interface TestNodeOptions {
  peers?: string[];
  dir?: string;
  /** Wraps ingest (e.g. to make it fail). */
  wrapIngest?: (ingest: Ingest) => Ingest;
  /** Share this (started) store instead of opening one in `dir`; it is not stopped with the node. */
  store?: Store;
  sync?: boolean;
  port?: number;
  relayInflightLimit?: number;
  syncPageSize?: number;
  syncIntervalMs?: number;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "xmtp-relay-test-"));
}

/** Starts a node with its own SQLite file in `dir` (a new temp dir by default). */
export async function startTestNode(opts: TestNodeOptions = {}): Promise<TestNode> {
  const dir = opts.dir ?? tempDir();
  const ownStore = opts.store === undefined;
  const store = opts.store ?? createSqliteStore({ path: join(dir, "xmtp.db"), synchronous: "normal" });
  if (ownStore) await store.start();
  const dispatcher = createDispatcher();
  let relay: Relay | undefined;
  const api = createMessageApi({
    store,
    dispatcher,
    auth: { required: false },
    relay: { broadcast: (envs) => void relay?.broadcast(envs) },
  });
  const ingest: Ingest = (e, source) => api.ingest(e, source);
  relay = await createRelay({
    listenPort: opts.port ?? 0,
    listenHost: "127.0.0.1",
    peers: opts.peers ?? [],
    nodeKey: await loadOrCreateNodeKey(join(dir, "node-key")),
    store,
    onMessage: opts.wrapIngest ? opts.wrapIngest(ingest) : ingest,
    syncStateFile: join(dir, "sync-state.json"),
    sync: opts.sync ?? true,
    ...(opts.syncPageSize !== undefined ? { syncPageSize: opts.syncPageSize } : {}),
    ...(opts.syncIntervalMs !== undefined ? { syncIntervalMs: opts.syncIntervalMs } : {}),
    ...(opts.relayInflightLimit !== undefined ? { relayInflightLimit: opts.relayInflightLimit } : {}),
  });
  await relay.start();
  const r = relay;
  const addr = r.multiaddrs().find((a) => a.startsWith("/ip4/127.0.0.1/")) ?? "";
  return {
    dir,
    store,
    dispatcher,
    api,
    relay: r,
    addr,
    async stop() {
      await r.stop();
      dispatcher.closeAll();
      api.stop();
      if (ownStore) await store.stop();
    },
  };
}

/** Polls `cond` every 50 ms until true, failing after `ms`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
