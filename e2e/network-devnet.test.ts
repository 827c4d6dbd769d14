/** `xmtp devnet`: N nodes in one command, joined, printed, and stopped cleanly by Ctrl-C. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { afterEach, expect, test } from "vitest";
import { alice } from "../packages/node/src/api/test-support.js";
import {
  bytes,
  type HasUrl,
  health,
  nowNs,
  publish,
  queryAll,
  subscribe,
  text,
  topic,
  waitFor,
} from "./network-support.js";
import { CLI } from "./node-process.js";

interface DevnetInfo {
  dataDir: string;
  nodes: { name: string; apiUrl: string; grpcUrl: string; multiaddr: string; dataDir: string }[];
}

const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

function startDevnet(args: string[]): Promise<{ proc: ChildProcess; info: DevnetInfo; out: () => string }> {
  const proc = spawn(process.execPath, [CLI, "devnet", "--json", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  procs.push(proc);
  let out = "";
  let err = "";
  proc.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`devnet did not start: ${err}`)), 30_000);
    proc.once("exit", (code) => reject(new Error(`devnet exited (${code}): ${err}`)));
    proc.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0 && out.startsWith("{")) {
        clearTimeout(timer);
        resolve({ proc, info: JSON.parse(out.slice(0, nl)) as DevnetInfo, out: () => out });
      }
    });
  });
}

const node = (apiUrl: string) => ({ url: apiUrl });

test("xmtp devnet --nodes 3: a line of nodes relaying end to end; Ctrl-C stops all and cleans up", async () => {
  const { proc, info, out } = await startDevnet(["--nodes", "3"]);
  expect(info.nodes.map((n) => n.name)).toEqual(["node1", "node2", "node3"]);
  for (const n of info.nodes) {
    expect(n.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(n.multiaddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/16Uiu2/);
  }
  const [n1, n2, n3] = info.nodes.map((n) => node(n.apiUrl)) as [HasUrl, HasUrl, HasUrl];
  await waitFor("line mesh", async () => {
    const [h1, h2, h3] = await Promise.all([health(n1), health(n2), health(n3)]);
    return h1.relay.meshPeers === 1 && h2.relay.meshPeers === 2 && h3.relay.meshPeers === 1;
  });
  const t = topic(`devnet-${Date.now()}`);
  const sub = await subscribe(n3, [t]);
  await publish(
    n1,
    [{ contentTopic: t, timestampNs: nowNs(), message: bytes("end to end") }],
    alice.bearer(nowNs()),
  );
  await waitFor("delivered on node3", () => sub.received.length === 1);
  expect(text(sub.received[0]?.message ?? new Uint8Array())).toBe("end to end");
  expect((await queryAll(n2, t)).length).toBe(1);
  sub.close();

  expect(existsSync(info.dataDir)).toBe(true);
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  proc.kill("SIGINT");
  expect(await exited).toBe(0);
  expect(out()).toContain("devnet stopped");
  expect(existsSync(info.dataDir)).toBe(false);
}, 90_000);

test("xmtp devnet --topology mesh: every node peers with every other", async () => {
  const { proc, info } = await startDevnet(["--nodes", "4", "--topology", "mesh"]);
  await waitFor("full mesh", async () => {
    for (const n of info.nodes) if ((await health(node(n.apiUrl))).relay.peers !== 3) return false;
    return true;
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  proc.kill("SIGTERM");
  expect(await exited).toBe(0);
}, 90_000);
