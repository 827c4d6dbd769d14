// Helpers for the network benchmarks: spawn `xmtp node` processes on loopback with node keys
// written up front (so multiaddrs are known before start), and wait for health.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { loadOrCreateNodeKey } from "@xmtp-ts/node";

const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));
const dirs = [];

export function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "xmtp-bench-net-"));
  dirs.push(d);
  return d;
}

export function cleanup() {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `xmtp node --no-auth` with the given peers; resolves once /healthz answers 200. */
export async function startNode({ dataDir = tempDir(), peers = [], args = [] } = {}) {
  const key = await loadOrCreateNodeKey(join(dataDir, "node-key"));
  const peerId = peerIdFromPrivateKey(key).toString();
  const [http, grpc, p2p] = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "node",
      "--no-auth",
      "--host",
      "127.0.0.1",
      "--p2p-host",
      "127.0.0.1",
      "--log-level",
      "warn",
      "--http-port",
      String(http),
      "--grpc-port",
      String(grpc),
      "--p2p-port",
      String(p2p),
      "--data-dir",
      dataDir,
      ...peers.flatMap((p) => ["--peer", p]),
      ...args,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise((r) => proc.once("exit", r));
  const url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error("node exited during start");
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("node did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    dataDir,
    multiaddr: `/ip4/127.0.0.1/tcp/${p2p}/p2p/${peerId}`,
    async health() {
      return (await fetch(`${url}/healthz`)).json();
    },
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

export async function waitFor(what, cond, ms = 60_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
