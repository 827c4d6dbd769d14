// 10k concurrent subscriptions against `xmtp node` (its own process): the node's RSS, and
// publish→deliver latency for unicast publishes (one subscriber each) and for fan-out publishes
// (every subscriber). Each subscriber is one HTTP NDJSON stream on its own connection, subscribed
// to its own topic and one shared topic. Run through bench/gateway.mjs (which writes
// docs/benchmarks.md), or alone: `node bench/subscriptions.mjs` (prints only).
//
// Env: BENCH_SUBS (default 10000), BENCH_UNICAST (publishes, default 2000), BENCH_FANOUT (default 5).
import { Agent, request } from "node:http";

const SUBS = Number(process.env.BENCH_SUBS ?? 10_000);
const UNICAST = Number(process.env.BENCH_UNICAST ?? 2000);
const FANOUT = Number(process.env.BENCH_FANOUT ?? 5);
const SHARED = "/xmtp/0/m-bench-shared/proto";
const own = (i) => `/xmtp/0/m-bench-${i}/proto`;

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const ms = (x) => `${x.toFixed(1)} ms`;

export async function runSubscriptions({ out, startNode, nodeRss }) {
  const node = await startNode();
  const u = new URL(node.url);
  const rssIdle = await nodeRss(node.url);
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const sent = new Map(); // id → send time
  const latencies = { unicast: [], fanout: [] };
  let delivered = 0;
  let onDelivered = () => {};
  const streams = [];

  const open = (i) =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: u.hostname, port: u.port, method: "POST", path: "/message/v1/subscribe", agent },
        (res) => {
          if (res.statusCode !== 200 || res.headers["grpc-metadata-subscribed"] !== "true") {
            reject(new Error(`subscribe ${i}: ${res.statusCode}`));
            return;
          }
          let buf = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => {
            const now = performance.now();
            buf += chunk;
            let nl = buf.indexOf("\n");
            while (nl >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              const env = JSON.parse(line).result;
              const id = Buffer.from(env.message, "base64").toString();
              const t = sent.get(id);
              if (t !== undefined) (id.startsWith("f") ? latencies.fanout : latencies.unicast).push(now - t);
              delivered++;
              onDelivered();
              nl = buf.indexOf("\n");
            }
          });
          res.on("error", () => {});
          streams.push(req);
          resolve();
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ contentTopics: [own(i), SHARED] }));
    });

  const t0 = performance.now();
  for (let i = 0; i < SUBS; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, SUBS - i) }, (_, k) => open(i + k)));
  }
  const openSeconds = (performance.now() - t0) / 1000;
  const rssOpen = await nodeRss(node.url);

  const publish = async (topic, id) => {
    sent.set(id, performance.now());
    const r = await fetch(`${node.url}/message/v1/publish`, {
      method: "POST",
      body: JSON.stringify({
        envelopes: [
          {
            contentTopic: topic,
            timestampNs: String(Date.now() * 1e6),
            message: Buffer.from(id).toString("base64"),
          },
        ],
      }),
    });
    if (r.status !== 200) throw new Error(`publish: ${r.status}`);
    await r.arrayBuffer();
  };
  const waitDelivered = (n) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${delivered} of ${n} delivered`)), 120_000);
      onDelivered = () => {
        if (delivered >= n) {
          clearTimeout(t);
          onDelivered = () => {};
          resolve();
        }
      };
      onDelivered();
    });

  // Unicast: 8 publishers, each publish to one random subscriber's own topic.
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let k = next++; k < UNICAST; k = next++)
        await publish(own(Math.floor(Math.random() * SUBS)), `u${k}`);
    }),
  );
  await waitDelivered(UNICAST);
  // Fan-out: one publish on the shared topic reaches every subscriber; one at a time.
  for (let k = 0; k < FANOUT; k++) {
    const before = delivered;
    await publish(SHARED, `f${k}`);
    await waitDelivered(before + SUBS);
  }
  const rssAfter = await nodeRss(node.url);

  for (const req of streams) req.destroy();
  agent.destroy();
  await node.stop();

  const uni = latencies.unicast.sort((a, b) => a - b);
  const fan = latencies.fanout.sort((a, b) => a - b);
  const mib = (b) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
  out("");
  out(
    `${SUBS.toLocaleString("en-US")} concurrent subscriptions, each an HTTP NDJSON stream on its own connection to \`xmtp node\` (own topic + one shared topic); opened in ${openSeconds.toFixed(1)} s.`,
  );
  out("");
  out("| measure | value | goal |");
  out("|---|---|---|");
  out(
    `| node RSS: idle → ${SUBS.toLocaleString("en-US")} streams open → after the runs | ${mib(rssIdle)} → ${mib(rssOpen)} → ${mib(rssAfter)} | < 1 GiB |`,
  );
  out(
    `| unicast publish→deliver (${uni.length} publishes, 8 concurrent publishers): p50 / p99 / max | ${ms(pct(uni, 50))} / ${ms(pct(uni, 99))} / ${ms(uni[uni.length - 1] ?? Number.NaN)} | |`,
  );
  out(
    `| fan-out publish→deliver (${FANOUT} publishes × ${SUBS.toLocaleString("en-US")} subscribers): p50 / p99 / max | ${ms(pct(fan, 50))} / ${ms(pct(fan, 99))} / ${ms(fan[fan.length - 1] ?? Number.NaN)} | |`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { startNode, nodeRss } = await import("./gateway.mjs");
  await runSubscriptions({ out: console.log, startNode, nodeRss });
}
