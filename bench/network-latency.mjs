// Benchmark: publish → deliver latency across a 3-node line A–B–C (publish on A, subscriber on C,
// two relay hops) vs a single node (publish and subscriber on the same node), same run.
// Goal: cross-node p99 ≤ 3× single-node p99.
// Usage: npx tsc -b packages/cli packages/client && node bench/network-latency.mjs [messages]
import { cleanup, percentile, startNode, waitFor } from "./network-support.mjs";

const N = Number(process.argv[2] ?? 1000);
const WARMUP = 50;

/** Opens an NDJSON subscription; returns a map topic-message → arrival time (ms). */
async function subscribe(url, topic) {
  const arrivals = new Map();
  const ac = new AbortController();
  const r = await fetch(`${url}/message/v1/subscribe`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ contentTopics: [topic] }),
    signal: ac.signal,
  });
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const now = performance.now();
        buf += dec.decode(value, { stream: true });
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const e = JSON.parse(line).result;
          if (e) arrivals.set(e.message, now);
        }
      }
    } catch {}
  })();
  return { arrivals, close: () => ac.abort() };
}

async function measure(pubUrl, subUrl, label) {
  const topic = `/xmtp/0/m-bench-${label}-${Date.now()}/proto`;
  const sub = await subscribe(subUrl, topic);
  const sent = new Map();
  const base = BigInt(Date.now()) * 1_000_000n;
  for (let i = 0; i < N + WARMUP; i++) {
    const message = Buffer.from(`${label}-${i}-${"x".repeat(200)}`).toString("base64");
    const t0 = performance.now();
    const r = await fetch(`${pubUrl}/message/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        envelopes: [{ contentTopic: topic, timestampNs: String(base + BigInt(i)), message }],
      }),
    });
    if (r.status !== 200) throw new Error(`publish ${r.status}`);
    await r.arrayBuffer();
    if (i >= WARMUP) sent.set(message, t0);
    // A steady trickle rather than a flood: latency, not throughput.
    await new Promise((res) => setTimeout(res, 2));
  }
  await waitFor(`${label}: all delivered`, () => [...sent.keys()].every((m) => sub.arrivals.has(m)), 60_000);
  sub.close();
  const lat = [...sent].map(([m, t0]) => sub.arrivals.get(m) - t0).sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] };
}

const b = await startNode();
const a = await startNode({ peers: [b.multiaddr] });
const c = await startNode({ peers: [b.multiaddr] });
await waitFor("mesh", async () => {
  const [ha, hb, hc] = await Promise.all([a.health(), b.health(), c.health()]);
  return ha.relay.meshPeers === 1 && hb.relay.meshPeers === 2 && hc.relay.meshPeers === 1;
});
const single = await measure(a.url, a.url, "single");
const cross = await measure(a.url, c.url, "cross");
await Promise.all([a.stop(), b.stop(), c.stop()]);
cleanup();

const f = (x) => `${x.toFixed(2)} ms`;
console.log(`messages:            ${N} (after ${WARMUP} warm-up), 3-node line A–B–C, publish on A`);
console.log(`single node (A→A):   p50 ${f(single.p50)}  p99 ${f(single.p99)}  max ${f(single.max)}`);
console.log(`cross-node (A→B→C):  p50 ${f(cross.p50)}  p99 ${f(cross.p99)}  max ${f(cross.max)}`);
console.log(`ratio p99 cross/single: ${(cross.p99 / single.p99).toFixed(2)}x (goal <= 3x)`);
