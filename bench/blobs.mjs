// Blob uploads against everything else a node serves: while one client uploads 32 MiB blobs back
// to back (POST /blobs, from its own process), another measures /healthz and single-envelope
// publish latency. The baseline is the same measurement on the same node with no upload running,
// in the same run; the ratio is the p99 during uploads over the p99 without.
//
//   npx tsc -b packages/cli packages/client && node bench/blobs.mjs
//
// Env: BENCH_BLOBS (uploads, default 10), BENCH_BLOB_BYTES (default 32 MiB − 1 KiB), BENCH_ROUNDS (2).
import { fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./gateway-ports.mjs";

const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));
const BLOBS = Number(process.env.BENCH_BLOBS ?? 10);
const SIZE = Number(process.env.BENCH_BLOB_BYTES ?? 32 * 1024 * 1024 - 1024);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

if (process.argv[2] === "--uploader") {
  // The uploading client: bodies made before the measured part, so making them costs nothing there.
  const [, , , url] = process.argv;
  const bodies = Array.from({ length: BLOBS }, () => randomBytes(SIZE));
  process.send("ready");
  await new Promise((r) => process.once("message", r));
  const t0 = performance.now();
  for (const body of bodies) {
    const r = await fetch(`${url}/blobs`, { method: "POST", body });
    if (!r.ok) throw new Error(`upload: ${r.status} ${await r.text()}`);
  }
  process.send(performance.now() - t0);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "xmtp-bench-blobs-"));
const port = await freePort();
const node = spawn(
  process.execPath,
  [CLI, "node", "--no-auth", "--host", "127.0.0.1", "--http-port", String(port)].concat([
    "--grpc-port",
    "0",
    "--p2p-port",
    "0",
    "--data-dir",
    dir,
    "--log-level",
    "warn",
  ]),
  { stdio: ["ignore", "ignore", "inherit"] },
);
const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  if (i > 300) throw new Error("the node did not start");
  if (
    await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  await new Promise((r) => setTimeout(r, 100));
}

/** /healthz polled every 5 ms and publishes one after another until `until` resolves. */
async function measure(until) {
  let stop = false;
  const health = [];
  const publish = [];
  let n = 0;
  const poll = (async () => {
    while (!stop) {
      const t = performance.now();
      await fetch(`${url}/healthz`);
      health.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const pub = (async () => {
    while (!stop) {
      const t = performance.now();
      const body = JSON.stringify({
        envelopes: [
          {
            contentTopic: "/xmtp/0/m-bench-blobs/proto",
            timestampNs: String(BigInt(Date.now()) * 1_000_000n + BigInt(n++)),
            message: randomBytes(200).toString("base64"),
          },
        ],
      });
      const r = await fetch(`${url}/message/v1/publish`, { method: "POST", body });
      if (!r.ok) throw new Error(`publish: ${r.status}`);
      publish.push(performance.now() - t);
    }
  })();
  const ms = await until;
  stop = true;
  await Promise.all([poll, pub]);
  return { health, publish, ms };
}

const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};
const fmt = (a) =>
  `p50 ${pct(a, 0.5).toFixed(1)} ms, p99 ${pct(a, 0.99).toFixed(1)} ms, max ${pct(a, 1).toFixed(1)} ms (${a.length})`;

console.log(`# Blob uploads (${BLOBS} × ${SIZE} B per round), load average ${loadavg()[0].toFixed(1)}`);
try {
  for (let r = 0; r < ROUNDS; r++) {
    const uploader = fork(fileURLToPath(import.meta.url), ["--uploader", url]);
    await new Promise((res) => uploader.once("message", res));
    const during = await measure(
      new Promise((res) => {
        uploader.once("message", res);
        uploader.send("go");
      }),
    );
    const idle = await measure(new Promise((res) => setTimeout(() => res(during.ms), during.ms)));
    const mbs = (BLOBS * SIZE) / 1048576 / (during.ms / 1000);
    console.log(`round ${r + 1}: ${BLOBS} uploads in ${Math.round(during.ms)} ms (${mbs.toFixed(0)} MiB/s)`);
    console.log(`  /healthz  no uploads: ${fmt(idle.health)}; during: ${fmt(during.health)}`);
    console.log(`  publish   no uploads: ${fmt(idle.publish)}; during: ${fmt(during.publish)}`);
    console.log(
      `  p99 during / p99 without: /healthz ${(pct(during.health, 0.99) / pct(idle.health, 0.99)).toFixed(1)}×, publish ${(pct(during.publish, 0.99) / pct(idle.publish, 0.99)).toFixed(1)}×`,
    );
  }
} finally {
  node.kill("SIGTERM");
  await new Promise((r) => node.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
