// Benchmark: a node catching up N envelopes from a peer over Waku store vs the raw insert rate of
// the same store, measured in the same run. Goal: ratio ≥ 0.3.
// Then the repair traffic: M envelopes published on the peer reach this node by gossip, and one
// repair pass runs; its bytes per envelope are set against the full catch-up pages' bytes per
// envelope of the same run (what a repair pass cost when it fetched every envelope again).
// The peer is a spawned `xmtp node` whose SQLite store is filled beforehand; the catching-up node
// runs in this process (SQLite, full synchronous) so the sync can be timed exactly.
// Usage: npx tsc -b packages/cli packages/client && node bench/network-sync.mjs [N]
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createDispatcher,
  createMessageApi,
  createRelay,
  createSqliteStore,
  loadOrCreateNodeKey,
} from "@xmtp-ts/node";
import { startNode } from "./network-support.mjs";

let ingestMs = 0;
const N = Number(process.argv[2] ?? 100_000);
const M = Number(process.argv[3] ?? 2_000);
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
    onMessage: async (e, source) => {
      const t0 = performance.now();
      await api.ingest(e, source);
      // Sync pages are ingested one after another; gossip ingests overlap and are not counted.
      if (source === "sync") ingestMs += performance.now() - t0;
    },
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

// Baselines: raw inserts into a fresh store, in batches of a sync page (100) and of a sync
// transaction (1000). The ratio uses the faster of the two.
async function rawRate(batch) {
  const raw = createSqliteStore({ path: join(tmp(), "xmtp.sqlite3") });
  await raw.start();
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += batch) await raw.insert(rows.slice(i, i + batch));
  const sec = (performance.now() - t0) / 1000;
  await raw.stop();
  return N / sec;
}
const raw100 = await rawRate(100);
const raw1000 = await rawRate(1000);

// The source node holds everything; a fresh node joins it and syncs.
const aDir = tmp();
const filled = createSqliteStore({ path: join(aDir, "xmtp.sqlite3") });
await filled.start();
for (let i = 0; i < rows.length; i += 10_000) await filled.insert(rows.slice(i, i + 10_000));
await filled.stop();
const a = await startNode({ dataDir: aDir });
const t = performance.now();
const b = await node(tmp(), [a.multiaddr]);
const deadline = Date.now() + 10 * 60_000;
while (b.relay.stats().syncCompleted < 1) {
  if (b.relay.stats().syncFailed > 0 || Date.now() > deadline) throw new Error("sync failed");
  await new Promise((r) => setTimeout(r, 20));
}
const syncSec = (performance.now() - t) / 1000;
const got = await b.store.count();
const full = { ...b.relay.stats() };

// Repair traffic: M envelopes through A's API, delivered to B by gossip, then one repair pass.
const gossipTopic = `/xmtp/0/m-${"ab".repeat(32)}/proto`;
for (let i = 0; i < M; i += 100) {
  const envelopes = Array.from({ length: Math.min(100, M - i) }, (_, j) => ({
    contentTopic: gossipTopic,
    timestampNs: String(BigInt(Date.now()) * 1_000_000n + BigInt(i + j)),
    message: randomBytes(256).toString("base64"),
  }));
  const r = await fetch(`${a.url}/message/v1/publish`, {
    method: "POST",
    body: JSON.stringify({ envelopes }),
  });
  if (!r.ok) throw new Error(`publish: ${r.status}`);
}
const gossipDeadline = Date.now() + 120_000;
while ((await b.store.count()) < N + M) {
  if (Date.now() > gossipDeadline) throw new Error("gossip did not deliver");
  await new Promise((r) => setTimeout(r, 50));
}
await b.relay.syncFrom(a.multiaddr.split("/p2p/")[1]);
const repaired = b.relay.stats();
const fullPerEnv = full.syncBytes / full.syncEnvelopes;
const repairPerEnv = (repaired.syncBytes - full.syncBytes) / M;
await b.stop();
await a.stop();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
if (got !== N) throw new Error(`synced ${got} of ${N}`);

const syncRate = N / syncSec;
const best = Math.max(raw100, raw1000);
console.log(`envelopes:               ${N} (256-byte messages, 500 topics), SQLite synchronous=full`);
console.log(`raw insert, batch 100:   ${raw100.toFixed(0)} env/s`);
console.log(`raw insert, batch 1000:  ${raw1000.toFixed(0)} env/s`);
console.log(
  `catch-up over Waku store: ${syncRate.toFixed(0)} env/s (${syncSec.toFixed(2)} s from relay start to sync done; peer in its own process; ${ingestMs.toFixed(0)} ms inside ingest)`,
);
console.log(
  `ratio catch-up/raw:      ${(syncRate / best).toFixed(2)}x of the faster raw rate (goal >= 0.3x)`,
);
console.log(
  `repair pass after ${M} gossiped envelopes: ${repaired.syncBytes - full.syncBytes} bytes, ${repaired.syncEnvelopes - full.syncEnvelopes} envelopes fetched, ${repaired.syncMissing - full.syncMissing} missing of ${repaired.syncChecked - full.syncChecked} checked`,
);
console.log(
  `repair bytes/envelope:   ${repairPerEnv.toFixed(1)} vs ${fullPerEnv.toFixed(1)} for full pages (${(repairPerEnv / fullPerEnv).toFixed(3)}x)`,
);
