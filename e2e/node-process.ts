/**
 * Spawns the real node through the built CLI (`node packages/cli/bin/xmtp.js node …`) on free
 * ports and a temp data dir, and waits for /healthz. Run `npx tsc -b packages/cli` first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));
const DIST = fileURLToPath(new URL("../packages/cli/dist/main.js", import.meta.url));

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface NodeProcess {
  proc: ChildProcess;
  httpPort: number;
  grpcPort: number;
  /** `http://127.0.0.1:<httpPort>` */
  url: string;
  /** `http://127.0.0.1:<grpcPort>` */
  grpcUrl: string;
  dataDir: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | string>;
}

export interface SpawnOptions {
  args?: string[];
  env?: Record<string, string>;
  dataDir?: string;
  httpPort?: number;
  grpcPort?: number;
  /** Wait for /healthz (default true). */
  waitReady?: boolean;
  /** Pass --http-port/--grpc-port (default true); false leaves the ports to env vars. */
  portFlags?: boolean;
  /** Pass `--p2p-port 0` (default true); false leaves the relay port to its default. */
  anyP2pPort?: boolean;
}

/** Starts `xmtp node` as a child process. */
export async function spawnNode(opts: SpawnOptions = {}): Promise<NodeProcess> {
  if (!existsSync(DIST)) throw new Error("packages/cli/dist is missing: run `npx tsc -b packages/cli` first");
  const httpPort = opts.httpPort ?? (await freePort());
  const grpcPort = opts.grpcPort ?? (await freePort());
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "xmtp-e2e-"));
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "node",
      ...(opts.portFlags === false ? [] : ["--http-port", String(httpPort), "--grpc-port", String(grpcPort)]),
      "--data-dir",
      dataDir,
      "--host",
      "127.0.0.1",
      "--log-level",
      "warn",
      // A random relay port, so parallel tests never collide on 60000 (later flags win).
      ...(opts.anyP2pPort === false ? [] : ["--p2p-port", "0"]),
      ...(opts.args ?? []),
    ],
    { env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  proc.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    proc.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  const url = `http://127.0.0.1:${httpPort}`;
  const node: NodeProcess = {
    proc,
    httpPort,
    grpcPort,
    url,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    dataDir,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return exited;
    },
  };
  if (opts.waitReady !== false) await waitHealthy(node);
  return node;
}

/** Polls /healthz until 200 (bounded: 60 s), failing early if the process exits. */
export async function waitHealthy(node: NodeProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited: number | string | undefined;
  void node.exited.then((c) => {
    exited = c;
  });
  while (Date.now() < deadline) {
    if (exited !== undefined)
      throw new Error(`node exited (${exited}) before becoming healthy: ${node.stderr()}`);
    try {
      const r = await fetch(`${node.url}/healthz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`node not healthy after 60 s: ${node.stderr()}`);
}

/** The node's count of open subscriptions (the `xmtp_subscriptions` gauge on /metrics). */
export async function openSubscriptions(node: { url: string }): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = /^xmtp_subscriptions (\d+)$/m.exec(text);
  if (m === null) throw new Error("no xmtp_subscriptions gauge on /metrics");
  return Number(m[1]);
}

/** Subscribe and Subscribe2 calls the node has answered, on every transport (its request counter). */
export async function subscribeCalls(node: { url: string }): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^xmtp_api_requests_total\{[^}]*method="Subscribe2?"[^}]*\} (\d+)$/gm))
    sum += Number(m[1]);
  return sum;
}

/**
 * Waits (bounded: 20 s) until the node counts at least `n` open subscriptions. xmtp-js returns a
 * stream before the node has answered its subscribe request; the stream is live once counted.
 */
export async function untilSubscriptions(node: { url: string }, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await openSubscriptions(node)) < n) {
    if (Date.now() > deadline) throw new Error(`the node never counted ${n} open subscriptions`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
