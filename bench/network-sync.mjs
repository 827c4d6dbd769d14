// Benchmark: a node catching up N envelopes from a peer over Waku store vs the raw insert rate of
// the same store, measured in the same run. Goal: ratio ≥ 0.3.
// Usage: npx tsc -b packages/cli packages/client && node bench/network-sync.mjs [N]
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDispatcher, createMessageApi, createSqliteStore } from "@xmtp-ts/node";
import { loadOrCreateNodeKey } from "../packages/node/dist/relay/node-key.js";
import { createRelay } from "../packages/node/dist/relay/relay.js";

const N = Number(process.argv[2] ?? 100_000);
const PAGE = 100;
const dirs = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "xmtp-bench-sync-"));
  dirs.push(d);
  return d;
};

function envelopes() {
  const out = [];
  const base = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  for (let i = 0; i < N; i++) {
    const contentTopic = `/xmtp/0/m-${(i % 500).toString(16).padStart(64, "0")}/proto`;
    const message = randomBytes(256);
    const digest = createHash("sha256").update(contentTopic).update(message).digest();
    out.push({
      contentTopic,
      timestampNs: base + BigInt(i) * 1_000_000n,
      message,
      digest: new Uint8Array(digest),
    });
  }
  return out;
}

async function node(dir, peers = []) {
  const store = createSqliteStore({ path: join(dir, "xmtp.sqlite3") });
  await store.start();
  const dispatcher = createDispatcher();
  const api = createMessageApi({ store, dispatcher, auth: { required: false } });
  const relay = await createRelay({
    listenPort: 0,
    listenHost: "127.0.0.1",
    peers,
    nodeKey: await loadOrCreateNodeKey(join(dir, "node-key")),
    store,
    onMessage: (e) => api.ingest(e),
    syncStateFile: join(dir, "sync-state.json"),
  });
  await relay.start();
  return {
    store,
    relay,
    addr: relay.multiaddrs().find((a) => a.startsWith("/ip4/127.0.0.1/")),
    async stop() {
      await relay.stop();
      api.stop();
      dispatcher.closeAll();
      await store.stop();
    },
  };
}

const rows = envelopes();

// Baseline: raw inserts into a fresh store, in batches the size of a sync page.
const raw = createSqliteStore({ path: join(tmp(), "xmtp.sqlite3") });
await raw.start();
let t = performance.now();
for (let i = 0; i < rows.length; i += PAGE) await raw.insert(rows.slice(i, i + PAGE));
const rawSec = (performance.now() - t) / 1000;
await raw.stop();

// The source node holds everything; a fresh node joins it and syncs.
const a = await node(tmp());
await a.store.insert(rows);
t = performance.now();
const b = await node(tmp(), [a.addr]);
const deadline = Date.now() + 10 * 60_000;
while (b.relay.stats().syncCompleted < 1) {
  if (b.relay.stats().syncFailed > 0 || Date.now() > deadline) throw new Error("sync failed");
  await new Promise((r) => setTimeout(r, 20));
}
const syncSec = (performance.now() - t) / 1000;
const got = await b.store.count();
await b.stop();
await a.stop();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
if (got !== N) throw new Error(`synced ${got} of ${N}`);

const rawRate = N / rawSec;
const syncRate = N / syncSec;
console.log(`envelopes:           ${N} (256-byte messages, 500 topics)`);
console.log(`raw insert (batch ${PAGE}): ${rawRate.toFixed(0)} env/s (${rawSec.toFixed(2)} s)`);
console.log(
  `catch-up over store:  ${syncRate.toFixed(0)} env/s (${syncSec.toFixed(2)} s, incl. node start + connect)`,
);
console.log(`ratio catch-up/raw:   ${(syncRate / rawRate).toFixed(2)}x (goal >= 0.3x)`);
