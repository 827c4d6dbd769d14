/**
 * Multi-node helpers: spawned `xmtp node` processes joined over the Waku relay on loopback, with
 * node keys written beforehand so every node's multiaddr is known before it starts; raw HTTP
 * publish/query/subscribe; bounded polling.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import postgres from "postgres";
import { loadOrCreateNodeKey } from "../packages/node/src/relay/node-key.js";
import { TEST_DATABASE_URL } from "../packages/node/src/store/test-postgres.js";
import { freePort, type NodeProcess, spawnNode } from "./node-process.js";

export interface NetNode extends NodeProcess {
  name: string;
  p2pPort: number;
  peerId: string;
  /** `/ip4/127.0.0.1/tcp/<p2pPort>/p2p/<peerId>` */
  multiaddr: string;
  /** The arguments it was started with (to restart it the same way). */
  args: string[];
}

export interface NetNodeOptions {
  name: string;
  peers?: NetNode[] | string[];
  dataDir?: string;
  p2pPort?: number;
  httpPort?: number;
  grpcPort?: number;
  /** PostgreSQL instead of SQLite. */
  db?: { url: string; schema: string };
  auth?: boolean;
  args?: string[];
}

const tempDirs: string[] = [];

export function tempDir(prefix = "xmtp-net-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Starts `xmtp node` on loopback with a relay port and node key chosen up front. */
export async function startNetNode(opts: NetNodeOptions): Promise<NetNode> {
  const dataDir = opts.dataDir ?? tempDir();
  const key = await loadOrCreateNodeKey(join(dataDir, "node-key"));
  const peerId = peerIdFromPrivateKey(key as never).toString();
  const p2pPort = opts.p2pPort ?? (await freePort());
  const peers = (opts.peers ?? []).map((p) => (typeof p === "string" ? p : p.multiaddr));
  const args = [
    "--p2p-port",
    String(p2pPort),
    "--p2p-host",
    "127.0.0.1",
    ...peers.flatMap((p) => ["--peer", p]),
    ...(opts.db ? ["--db-url", opts.db.url, "--db-schema", opts.db.schema] : []),
    ...(opts.auth === false ? ["--no-auth"] : []),
    ...(opts.args ?? []),
  ];
  const proc = await spawnNode({
    args,
    dataDir,
    ...(opts.httpPort !== undefined ? { httpPort: opts.httpPort } : {}),
    ...(opts.grpcPort !== undefined ? { grpcPort: opts.grpcPort } : {}),
  });
  return Object.assign(proc, {
    name: opts.name,
    p2pPort,
    peerId,
    multiaddr: `/ip4/127.0.0.1/tcp/${p2pPort}/p2p/${peerId}`,
    args,
  });
}

/** Starts the node again with the same ports, data dir and flags. */
export async function restartNetNode(n: NetNode, extra: Partial<NetNodeOptions> = {}): Promise<NetNode> {
  const proc = await spawnNode({
    args: n.args,
    dataDir: n.dataDir,
    httpPort: n.httpPort,
    grpcPort: n.grpcPort,
  });
  return Object.assign(
    proc,
    { name: n.name, p2pPort: n.p2pPort, peerId: n.peerId, multiaddr: n.multiaddr, args: n.args },
    extra,
  );
}

export interface RelayHealth {
  peers: number;
  meshPeers: number;
  sync: { peer: string; state: string; envelopes: number }[];
}

/** Anything with the node's HTTP URL. */
export type HasUrl = Pick<NodeProcess, "url">;

export async function health(n: HasUrl): Promise<{ status: string; store: string; relay: RelayHealth }> {
  const r = await fetch(`${n.url}/healthz`);
  return (await r.json()) as { status: string; store: string; relay: RelayHealth };
}

/** A metric's value from /metrics (sum over label sets), 0 when absent. */
export async function metric(n: HasUrl, name: string): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Polls `cond` every 100 ms until true, failing after `ms`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until each node has at least the given number of gossipsub mesh peers. */
export async function waitMesh(pairs: [HasUrl, number][], ms = 20_000): Promise<void> {
  await waitFor(
    "relay mesh",
    async () => {
      for (const [n, want] of pairs) if ((await health(n)).relay.meshPeers < want) return false;
      return true;
    },
    ms,
  );
}

export interface RawEnvelope {
  contentTopic: string;
  timestampNs: bigint;
  message: Uint8Array;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** POST /message/v1/publish; throws on a non-200 answer. */
export async function publish(n: HasUrl, envs: RawEnvelope[], authorization?: string): Promise<void> {
  const r = await fetch(`${n.url}/message/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({
      envelopes: envs.map((e) => ({
        contentTopic: e.contentTopic,
        timestampNs: e.timestampNs.toString(),
        message: b64(e.message),
      })),
    }),
  });
  if (r.status !== 200) throw new Error(`publish: ${r.status} ${await r.text()}`);
}

interface JsonEnvelope {
  contentTopic: string;
  timestampNs: string;
  message: string;
}

/** Every envelope of a topic, ascending, following cursors (bounded to 1000 pages). */
export async function queryAll(n: HasUrl, topic: string): Promise<RawEnvelope[]> {
  const out: RawEnvelope[] = [];
  let cursor: unknown;
  for (let page = 0; page < 1000; page++) {
    const r = await fetch(`${n.url}/message/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        contentTopics: [topic],
        pagingInfo: { limit: 100, direction: "SORT_DIRECTION_ASCENDING", ...(cursor ? { cursor } : {}) },
      }),
    });
    if (r.status !== 200) throw new Error(`query: ${r.status} ${await r.text()}`);
    const body = (await r.json()) as { envelopes: JsonEnvelope[]; pagingInfo?: { cursor?: unknown } };
    for (const e of body.envelopes) {
      out.push({
        contentTopic: e.contentTopic,
        timestampNs: BigInt(e.timestampNs),
        message: new Uint8Array(Buffer.from(e.message, "base64")),
      });
    }
    cursor = body.pagingInfo?.cursor;
    if (body.envelopes.length === 0 || cursor === undefined || cursor === null) return out;
  }
  throw new Error("query: too many pages");
}

/** An HTTP subscription collecting envelopes; live once `ready` resolves. */
export interface HttpSubscription {
  received: RawEnvelope[];
  close(): void;
}

/** POST /message/v1/subscribe and collect NDJSON `result` lines in the background. */
export async function subscribe(n: HasUrl, topics: string[]): Promise<HttpSubscription> {
  const ac = new AbortController();
  const received: RawEnvelope[] = [];
  const r = await fetch(`${n.url}/message/v1/subscribe`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ contentTopics: topics }),
    signal: ac.signal,
  });
  if (r.status !== 200 || r.body === null) throw new Error(`subscribe: ${r.status}`);
  const reader = r.body.getReader();
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          nl = buf.indexOf("\n");
          if (line === "") continue;
          const e = (JSON.parse(line) as { result?: JsonEnvelope }).result;
          if (e)
            received.push({
              contentTopic: e.contentTopic,
              timestampNs: BigInt(e.timestampNs),
              message: new Uint8Array(Buffer.from(e.message, "base64")),
            });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { received, close: () => ac.abort() };
}

export const topic = (name: string) => `/xmtp/0/m-${name}/proto`;
export const bytes = (s: string) => new TextEncoder().encode(s);
export const text = (b: Uint8Array) => new TextDecoder().decode(b);
export const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/** Fails loudly (never skips) when the test PostgreSQL server is unreachable. */
export async function requirePostgres(): Promise<void> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (err) {
    throw new Error(`PostgreSQL at ${TEST_DATABASE_URL} is unreachable: ${(err as Error).message}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
