// `xmtp conversations` for an account with N conversations (each with one message) on a spawned
// node: a run with the conversation cache (the encrypted snapshot `xmtp` keeps beside the
// identity) against the baseline of a first run without it, measured in the same run, each a fresh
// process, wall time from spawn to exit (start-up, client start, listing, latest messages, output).
//
//   npx tsc -b packages/cli packages/client && node bench/cli-conversations.mjs
//
// Env: BENCH_CONVERSATIONS (default 200), BENCH_ROUNDS (default 3).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Client, fromViemAccount } from "../packages/client/dist/index.js";

const N = Number(process.env.BENCH_CONVERSATIONS ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** Runs `xmtp …args`; resolves with stdout and the wall time, rejects on a non-zero exit. */
function xmtp(env, args) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    child.once("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (code === 0) resolve({ out, ms });
      else reject(new Error(`xmtp ${args.join(" ")} exited ${code}: ${err}`));
    });
  });
}

const [http, grpc] = [await freePort(), await freePort()];
const dataDir = mkdtempSync(join(tmpdir(), "xmtp-bench-cli-node-"));
const node = spawn(
  process.execPath,
  [CLI, "node", "--http-port", `${http}`, "--grpc-port", `${grpc}`, "--p2p-port", "0"].concat([
    "--data-dir",
    dataDir,
    "--host",
    "127.0.0.1",
    "--log-level",
    "warn",
  ]),
  { stdio: ["ignore", "inherit", "inherit"] },
);
const url = `http://127.0.0.1:${http}`;
const config = mkdtempSync(join(tmpdir(), "xmtp-bench-cli-config-"));
const env = { ...process.env, XMTP_API_URL: url, XMTP_CONFIG_DIR: config };
delete env.XMTP_WALLET_KEY;
try {
  for (let up = false, tries = 0; !up; tries++) {
    if (tries > 200) throw new Error("node did not start");
    up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  const me = JSON.parse((await xmtp(env, ["login", "--json"])).out).address;
  console.log(`setup: ${N} peers start a conversation with ${me} and send one message`);
  for (let i = 0; i < N; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, N - i) }, async () => {
        const peer = await Client.create(fromViemAccount(privateKeyToAccount(generatePrivateKey())), {
          apiUrl: url,
        });
        await (await peer.conversations.newConversation(me)).send("gm");
        await peer.close();
      }),
    );
  }

  const cold = [];
  const warm = [];
  for (let round = 0; round < ROUNDS; round++) {
    rmSync(join(config, "cache"), { recursive: true, force: true });
    const first = await xmtp(env, ["conversations"]);
    if (first.out.trimEnd().split("\n").length !== N) throw new Error(`listed: ${first.out}`);
    cold.push(first.ms);
    warm.push((await xmtp(env, ["conversations"])).ms);
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`# xmtp conversations, ${N} conversations (${cpus().length} CPUs, Node ${process.version})`);
  console.log("| run | median | rounds |");
  console.log("| --- | --- | --- |");
  console.log(
    `| first (no cache, baseline) | ${median(cold).toFixed(0)} ms | ${cold.map((t) => t.toFixed(0)).join(", ")} |`,
  );
  console.log(
    `| repeated (cache) | ${median(warm).toFixed(0)} ms | ${warm.map((t) => t.toFixed(0)).join(", ")} |`,
  );
  console.log(`ratio repeated / first: ${(median(warm) / median(cold)).toFixed(2)}`);
} finally {
  node.kill("SIGTERM");
  await new Promise((r) => node.once("exit", r));
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(config, { recursive: true, force: true });
}
