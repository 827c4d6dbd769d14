// Node API benchmarks, each against a baseline measured in the same run (docs/benchmarks.md,
// "Node API"):
//   1. batched publish through the HTTP gateway vs raw better-sqlite3 inserts of the same rows at
//      the same durability and checkpointing (WAL, synchronous=FULL, autocheckpoint 10,000 pages,
//      one transaction per batch)   goal ≥ 0.5×
//   2. single-envelope publishes/s vs a bare fastify echo route, 16 and 64 concurrent keep-alive
//      clients (gateway-load.mjs: raw keep-alive sockets, far lighter than node:http's client; the
//      generator's own CPU time is printed, so the echo rate shown is the server's)   goal ≥ 0.5×
//   Both with auth on (every publish carries a client's bearer token, as in production) and off.
//   3. 10k concurrent subscriptions (bench/subscriptions.mjs): node RSS (< 1 GiB), publish→deliver p99
// The node is the real CLI process (`xmtp node`, and `--no-auth`), the echo server a child process too, so
// the client never shares a CPU-bound event loop with the server it measures.
//
//   npx tsc -b packages/cli packages/client && node bench/gateway.mjs
//
// Env: BENCH_ENVELOPES (batched publish rows, default 50000), BENCH_BATCH (default 100),
// BENCH_SECONDS (per throughput comparison side, default 10), BENCH_CONCURRENCY (default "16,64"),
// BENCH_SUBS (default 10000), BENCH_SKIP_SUBS=1, BENCH_NO_DOCS=1, BENCH_PARTS (default
// "batched,single"), BENCH_NODE_FLAGS (extra node flags for the nodes under test, e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { drive } from "./gateway-load.mjs";

const ENVELOPES = Number(process.env.BENCH_ENVELOPES ?? 50_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "16,64").split(",").map(Number);
const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));
const ECHO = fileURLToPath(new URL("./gateway-echo-server.mjs", import.meta.url));
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const PARTS = new Set((process.env.BENCH_PARTS ?? "batched,single").split(","));
const WARMUP = Number(process.env.BENCH_WARMUP_BATCHES ?? 20);
const API_ONLY = fileURLToPath(new URL("./gateway-node-server.mjs", import.meta.url));

const lines = [];
export const out = (s = "") => {
  console.log(s);
  lines.push(s);
};
const dirs = [];
export const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "xmtp-bench-gw-"));
  dirs.push(d);
  return d;
};
const fmt = (n, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Starts `xmtp node --no-auth` (or with auth) on free ports; resolves once /healthz answers. */
export async function startNode(extraArgs = [], { auth = false } = {}) {
  const dataDir = tmp();
  const { freePort } = await import("./gateway-ports.mjs");
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      CLI,
      "node",
      ...(auth ? [] : ["--no-auth"]),
      "--host",
      "127.0.0.1",
      "--http-port",
      String(httpPort),
      "--grpc-port",
      String(grpcPort),
      "--p2p-port",
      "0",
      "--data-dir",
      dataDir,
      "--log-level",
      "warn",
      ...extraArgs,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `http://127.0.0.1:${httpPort}`;
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise((r) => proc.once("exit", r));
  return {
    url,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    pid: proc.pid,
    async stop() {
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Two nodes joined over the relay; publishes go to `a`, which gossips them to `b`. */
async function startPeeredPair() {
  const { freePort } = await import("./gateway-ports.mjs");
  const p2p = await freePort();
  const a = await startNode(["--p2p-port", String(p2p), "--p2p-host", "127.0.0.1"]);
  const { relay } = await (await fetch(`${a.url}/healthz`)).json();
  const b = await startNode([
    "--peer",
    `/ip4/127.0.0.1/tcp/${p2p}/p2p/${relay.peerId}`,
    "--p2p-host",
    "127.0.0.1",
  ]);
  const deadline = Date.now() + 20_000;
  while ((await (await fetch(`${a.url}/healthz`)).json()).relay.meshPeers < 1) {
    if (Date.now() > deadline) throw new Error("the relay pair did not form a mesh");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { a, b, stop: () => Promise.all([a.stop(), b.stop()]) };
}

/** A child process that prints its HTTP port: the echo baseline, or the node without its relay. */
async function startServer(script, args = []) {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) =>
    proc.stdout.once("data", (d) => resolve(Number(String(d).trim()))),
  );
  const exited = new Promise((r) => proc.once("exit", r));
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Node RSS in bytes, read from its own /metrics. */
export async function nodeRss(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function makeEnvelopes(n) {
  const base = BigInt(Date.now()) * 1_000_000n;
  const rows = [];
  for (let i = 0; i < n; i++) {
    const contentTopic = `/xmtp/0/m-${(i % 1000).toString(16).padStart(64, "0")}/proto`;
    const message = randomBytes(256);
    rows.push({ contentTopic, timestampNs: base + BigInt(i), message });
  }
  return rows;
}

/**
 * The disk's durable-commit latency right now: median ms of `n` one-row transactions at
 * synchronous=FULL in WAL mode, on the file system the nodes write to. Single-envelope publish
 * acknowledges after such a commit, so this bounds what any durable node can do at a given
 * concurrency, however light its CPU path.
 */
function commitLatencyMs(n = 100) {
  const db = new Database(join(tmp(), "probe.sqlite3"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE t (v BLOB NOT NULL)");
  const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
  const row = randomBytes(300);
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    insert.run(row);
    times.push(performance.now() - t0);
  }
  db.close();
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)];
}

/**
 * Baseline 1: the same rows into a bare SQLite table shaped like the store's (same pragmas and
 * indexes), one transaction per batch. Returns a runner for one chunk of rows → elapsed ms.
 */
function rawSqlite() {
  const db = new Database(join(tmp(), "raw.sqlite3"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("cache_size = -32768");
  db.pragma("temp_store = MEMORY");
  // The node's writer checkpoints every 10,000 WAL pages (store/sqlite-writer.ts); so does this.
  db.pragma("wal_autocheckpoint = 10000");
  db.exec(`CREATE TABLE envelopes (sender_ts INTEGER NOT NULL, digest BLOB NOT NULL, content_topic TEXT NOT NULL,
    message BLOB NOT NULL, receiver_ts INTEGER NOT NULL, should_expire INTEGER NOT NULL) STRICT;
    CREATE UNIQUE INDEX envelopes_ts_digest ON envelopes (sender_ts, digest);
    CREATE INDEX envelopes_topic_ts_digest ON envelopes (content_topic, sender_ts, digest);`);
  db.defaultSafeIntegers(true);
  const insert = db.prepare(
    "INSERT INTO envelopes (sender_ts, digest, content_topic, message, receiver_ts, should_expire) VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (sender_ts, digest) DO NOTHING",
  );
  const SIGN = 1n << 63n;
  const tx = db.transaction((batch) => {
    const now = BigInt(Date.now()) * 1_000_000n;
    for (const p of batch) insert.run(p[0], p[1], p[2], p[3], now);
  });
  return {
    run(rows) {
      const prepared = rows.map((r) => [
        r.timestampNs - SIGN,
        createHash("sha256").update(r.contentTopic).update(r.message).digest(),
        r.contentTopic,
        r.message,
      ]);
      const t0 = performance.now();
      for (let i = 0; i < prepared.length; i += BATCH) tx(prepared.slice(i, i + BATCH));
      return performance.now() - t0;
    },
    close: () => db.close(),
  };
}

const bodyOf = (batch) =>
  JSON.stringify({
    envelopes: batch.map((r) => ({
      contentTopic: r.contentTopic,
      timestampNs: String(r.timestampNs),
      message: Buffer.from(r.message).toString("base64"),
    })),
  });

/**
 * A keep-alive HTTP client over node:http (an Agent with one socket per concurrent client): the
 * lightest client, so it drives a server near the server's own rate. `post(body)` resolves on 200.
 */
function poster(url, path, clients, headers = {}) {
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const post = (body) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: u.hostname,
          port: u.port,
          method: "POST",
          path,
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            ...headers,
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => {
            text += c;
          });
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${res.statusCode} ${text}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

/** Publishes pre-built bodies with `clients` concurrent keep-alive clients; elapsed ms. */
async function gatewayBatches(url, bodies, clients, headers = {}) {
  const { post, close } = poster(url, "/message/v1/publish", clients, headers);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < bodies.length; i = next++) await post(bodies[i]);
    }),
  );
  const ms = performance.now() - t0;
  close();
  return ms;
}

/** `Authorization` header of a fresh identity, as a client sends it (one token, reused). */
async function bearer() {
  const { createPrivateKeyBundle, fromViemAccount } = await import("../packages/client/dist/advanced.js");
  const { localAuthenticator } = await import("../packages/client/dist/api/authenticator.js");
  const { generatePrivateKey, privateKeyToAccount } = await import("viem/accounts");
  const bundle = await createPrivateKeyBundle(fromViemAccount(privateKeyToAccount(generatePrivateKey())));
  return { authorization: `Bearer ${await localAuthenticator(bundle).createToken()}` };
}

async function main() {
  out(
    `Machine: ${cpus().length}× ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)} at start (the machine may be shared; ours and the baseline alternate in rounds). Nodes under test: \`xmtp node\` (auth on: every publish carries a bearer token) and \`xmtp node --no-auth\`, SQLite, synchronous=FULL, each in its own process; the load client is this process (batched: node:http with a keep-alive Agent; single: raw keep-alive sockets, bench/gateway-load.mjs).`,
  );
  out("");
  out("| benchmark | ours | baseline | ratio | goal |");
  out("|---|---|---|---|---|");

  // The machine may be shared: each comparison alternates ours and the baseline in ROUNDS rounds
  // and sums them, so load changes hit both sides alike.
  const ROUNDS = 5;

  const node = await startNode();
  const authed = await startNode([], { auth: true });
  const auth = await bearer();
  const rounds = [];

  // 1. Batched publish vs raw SQLite
  if (PARTS.has("batched")) {
    const rows = makeEnvelopes(ENVELOPES * 2);
    const raw = rawSqlite();
    const apiOnly = await startServer(API_ONLY, [tmp()]);
    const peered = await startPeeredPair();
    const bodies = [];
    for (let i = 0; i < rows.length; i += BATCH) bodies.push(bodyOf(rows.slice(i, i + BATCH)));
    const per = Math.floor(ENVELOPES / ROUNDS / BATCH) * BATCH;
    const t = { raw: 0, gw1: 0, gw4: 0, auth1: 0, auth4: 0, api1: 0, api4: 0, peer1: 0 };
    // Every side first gets the same WARMUP batches, not counted: freshly started processes (and
    // the baseline's fresh connection) run their first requests unoptimized and with cold caches.
    const warmRows = makeEnvelopes(WARMUP * BATCH);
    const warmBodies = [];
    for (let i = 0; i < warmRows.length; i += BATCH) warmBodies.push(bodyOf(warmRows.slice(i, i + BATCH)));
    raw.run(warmRows);
    await gatewayBatches(authed.url, warmBodies, 4, auth);
    await gatewayBatches(node.url, warmBodies, 4);
    await gatewayBatches(apiOnly.url, warmBodies, 4);
    await gatewayBatches(peered.a.url, warmBodies, 1);
    for (let r = 0; r < ROUNDS; r++) {
      // The baseline inserts the very rows each node receives this round (the 1-client and the
      // 4-client slice), so its table grows as the nodes' tables do.
      const before = { ...t };
      t.raw += raw.run(rows.slice(2 * r * per, (2 * r + 2) * per));
      t.auth1 += await gatewayBatches(
        authed.url,
        bodies.slice((2 * r * per) / BATCH, ((2 * r + 1) * per) / BATCH),
        1,
        auth,
      );
      t.auth4 += await gatewayBatches(
        authed.url,
        bodies.slice(((2 * r + 1) * per) / BATCH, ((2 * r + 2) * per) / BATCH),
        4,
        auth,
      );
      t.gw1 += await gatewayBatches(
        node.url,
        bodies.slice((2 * r * per) / BATCH, ((2 * r + 1) * per) / BATCH),
        1,
      );
      t.gw4 += await gatewayBatches(
        node.url,
        bodies.slice(((2 * r + 1) * per) / BATCH, ((2 * r + 2) * per) / BATCH),
        4,
      );
      t.api1 += await gatewayBatches(
        apiOnly.url,
        bodies.slice((2 * r * per) / BATCH, ((2 * r + 1) * per) / BATCH),
        1,
      );
      t.api4 += await gatewayBatches(
        apiOnly.url,
        bodies.slice(((2 * r + 1) * per) / BATCH, ((2 * r + 2) * per) / BATCH),
        4,
      );
      t.peer1 += await gatewayBatches(
        peered.a.url,
        bodies.slice((2 * r * per) / BATCH, ((2 * r + 1) * per) / BATCH),
        1,
      );
      // Per-round ratios (envelopes/s against raw envelopes/s of the same round).
      const d = (k) => t[k] - before[k];
      const ratio = (k) => (per / d(k) / ((2 * per) / d("raw"))).toFixed(2);
      rounds.push(`auth on ${ratio("auth1")}/${ratio("auth4")}, auth off ${ratio("gw1")}/${ratio("gw4")}`);
    }
    await peered.stop();
    raw.close();
    await apiOnly.stop();
    const rate = (ms, n = per * ROUNDS) => (n / ms) * 1000;
    const rawRate = rate(t.raw, 2 * per * ROUNDS);
    const row = (what, ms, baseline) =>
      out(`| ${what} | ${fmt(rate(ms))} | ${baseline} | ${(rate(ms) / rawRate).toFixed(2)}× | ≥ 0.5× |`);
    row(
      `batched publish, ${BATCH} × 256 B envelopes per request, auth on, 1 client (envelopes/s)`,
      t.auth1,
      `raw SQLite inserts, ${BATCH}/transaction: ${fmt(rawRate)}`,
    );
    row("batched publish, same, auth on, 4 concurrent clients (envelopes/s)", t.auth4, fmt(rawRate));
    row("batched publish, same, auth off, 1 client (envelopes/s)", t.gw1, fmt(rawRate));
    row("batched publish, same, auth off, 4 concurrent clients (envelopes/s)", t.gw4, fmt(rawRate));
    row(
      "batched publish, auth off, 1 client, node without its relay part (envelopes/s)",
      t.api1,
      fmt(rawRate),
    );
    row(
      "batched publish, auth off, 4 concurrent clients, node without its relay part (envelopes/s)",
      t.api4,
      fmt(rawRate),
    );
    out(
      `| batched publish, auth off, 1 client, node with one relay peer on this host that stores every envelope too (envelopes/s) | ${fmt(rate(t.peer1))} | ${fmt(rawRate)} | ${(rate(t.peer1) / rawRate).toFixed(2)}× | (informative) |`,
    );
  }

  // 2. Single-envelope publish vs a bare fastify echo route
  const singleRows = [];
  const cpuNotes = [];
  const commitNotes = [];
  if (PARTS.has("single")) {
    const single = (i) =>
      `{"envelopes":[{"contentTopic":"/xmtp/0/m-single-${i % 1000}/proto","timestampNs":"${1_700_000_000_000_000_000n + BigInt(i)}","message":"${randomBytes(256).toString("base64")}"}]}`;
    const singleBodies = Array.from({ length: 4096 }, (_, i) => single(i));
    const echo = await startServer(ECHO);
    let seq = 0;
    const path = "/message/v1/publish";
    for (const clients of CONCURRENCY) {
      const sum = {
        echo: { count: 0, ms: 0, cpuMs: 0 },
        on: { count: 0, ms: 0, cpuMs: 0 },
        off: { count: 0, ms: 0, cpuMs: 0 },
      };
      const add = (k, x) => {
        for (const f of ["count", "ms", "cpuMs"]) sum[k][f] += x[f];
      };
      const slice = SECONDS / ROUNDS;
      const probes = [];
      for (let r = 0; r < ROUNDS; r++) {
        const run = (url, p, makeBody, headers) =>
          drive({ url, path: p, clients, seconds: slice, makeBody, headers });
        add("echo", await run(echo.url, "/echo", (i) => singleBodies[i % 4096]));
        add("on", await run(authed.url, path, () => single(seq++), auth));
        add("off", await run(node.url, path, () => single(seq++)));
        probes.push(commitLatencyMs());
      }
      const rps = (k) => (sum[k].count / sum[k].ms) * 1000;
      const cpu = (k) => `${Math.round((sum[k].cpuMs / sum[k].ms) * 100)}%`;
      probes.sort((a, b) => a - b);
      const lat = probes[Math.floor(probes.length / 2)];
      // One commit in flight while the next gathers: each holds about half the clients.
      commitNotes.push(
        `${clients} clients: median ${lat.toFixed(2)} ms per one-row durable commit (rounds: ${probes.map((x) => x.toFixed(2)).join(", ")}), so at most ≈ ${fmt(clients / 2 / (lat / 1000))} acknowledged publishes/s from commit latency alone`,
      );
      cpuNotes.push(
        `${clients} clients: ${cpu("echo")} while driving the echo route, ${cpu("on")} auth on, ${cpu("off")} auth off`,
      );
      for (const [k, what] of [
        ["on", "auth on"],
        ["off", "auth off"],
      ])
        singleRows.push(
          `| single-envelope publish, ${what}, ${clients} concurrent keep-alive clients (requests/s) | ${fmt(rps(k))} | bare fastify JSON echo route, same client: ${fmt(rps("echo"))} | ${(rps(k) / rps("echo")).toFixed(2)}× | ≥ 0.5× |`,
        );
    }
    await echo.stop();
  }
  for (const l of singleRows) out(l);
  out("");
  if (rounds.length > 0) {
    out(
      `Batched publish per round (1 client / 4 clients, against raw SQLite of the same round): ${rounds.join("; ")}.`,
    );
  }
  if (commitNotes.length > 0) {
    out("");
    out(
      `Disk, probed after every round of the single-envelope runs (raw SQLite, WAL, synchronous=FULL): ${commitNotes.join("; ")}.`,
    );
  }
  if (cpuNotes.length > 0) {
    out("");
    out(
      `Load generator CPU over the single-envelope runs (this process's user + system time, share of one core): ${cpuNotes.join("; ")}.`,
    );
  }
  await authed.stop();
  await node.stop();

  // 3. Subscriptions
  if (process.env.BENCH_SKIP_SUBS !== "1") {
    const { runSubscriptions } = await import("./subscriptions.mjs");
    await runSubscriptions({ out, startNode, nodeRss });
  }

  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (process.env.BENCH_NO_DOCS !== "1") writeSection();
}

const NOTES = `Reading the numbers:
- Auth on: a client sends the same bearer token with every publish for up to an hour; the node
  checks its two signatures once and remembers the result until the token expires
  (\`api/token-cache.ts\`), so auth on costs about what auth off does. Topic ownership is still
  checked on every envelope.
- Single-envelope rows: the load client (\`bench/gateway-load.mjs\`) writes prebuilt HTTP/1.1
  requests on raw keep-alive sockets, one in flight per socket, and frames answers by
  Content-Length; its own CPU time is printed, and it stays well below one core while driving the
  echo route, so the echo rate is the server's. (node:http's client with a keep-alive Agent
  reached only ~17,000 requests/s against the same echo route on the idle machine: it was the
  limit, not the echo server.)
- Single-envelope publish acknowledges only after the envelope's transaction is durably committed
  (WAL, synchronous=FULL). The store commits in a writer thread (\`store/sqlite-writer.ts\`): one
  transaction in flight, the requests arriving meanwhile gathered into the next, so each commit
  carries about half of the clients in flight and the event loop goes on serving while the disk
  syncs. The disk probe line gives the one-row durable-commit latency measured between rounds and
  the ceiling it puts on any durable node at that concurrency.
- Batched publish: the baseline inserts the very rows each node receives (its table grows as
  theirs), one transaction per 100 rows; every side first gets the same 20 warm-up batches, not
  counted; the per-round line shows every round's ratio. The peered row shares the 2 CPUs with the
  peer node, which validates and stores every gossiped envelope as well.
- Fan-out latencies are over every delivery (max = the last of the 10,000 subscribers), measured
  by one client process that reads all 10,000 sockets.`;

function writeSection() {
  const docs = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));
  let text = "";
  try {
    text = readFileSync(docs, "utf8");
  } catch {
    text = "# Benchmarks\n";
  }
  const section = `## Node API\n\nMeasured by \`node bench/gateway.mjs\` (after \`npx tsc -b packages/cli packages/client\`); every ratio compares two numbers from the same run.\n\n${lines.join("\n")}\n\n${NOTES}\n`;
  const start = text.indexOf("\n## Node API\n");
  if (start < 0) text = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf("\n## ", start + 1);
    text = `${text.slice(0, start + 1)}${section}${next < 0 ? "" : text.slice(next)}`;
  }
  writeFileSync(docs, text);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
