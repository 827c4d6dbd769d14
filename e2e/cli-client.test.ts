/**
 * The `xmtp identity | send | listen` commands against the real node process, with an unmodified
 * xmtp-js 12.1.0 client on the other end. Run `npx tsc -b packages/cli packages/client` first.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cliEnv, newConfigDir } from "./cli-support.js";
import { Clients, wallet, within } from "./client-helpers.js";
import { CLI, type NodeProcess, spawnNode } from "./node-process.js";

const run = promisify(execFile);
// Each test runs several CLI processes one after the other; a busy machine makes them slow.
const SLOW = 240_000;
let node: NodeProcess;
const clients = new Clients(() => node.url);
const children: ChildProcess[] = [];

beforeAll(async () => {
  node = await spawnNode();
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await clients.closeAll();
  expect(await node.stop()).toBe(0);
});

// An empty config directory: these commands run on raw keys, never on a saved identity.
const xmtp = (...args: string[]) =>
  run(process.execPath, [CLI, ...args], { timeout: 120_000, env: cliEnv(node.url, newConfigDir()) });

describe("xmtp identity, send and listen", { timeout: SLOW }, () => {
  test("identity → listen → send: the listener prints the message; xmtp-js reads it too", async () => {
    const a = JSON.parse((await xmtp("identity")).stdout) as { key: string; address: string };
    const b = JSON.parse((await xmtp("identity")).stdout) as { key: string; address: string };
    expect(a.key).toMatch(/^0x[0-9a-f]{64}$/);
    expect(a.address).toMatch(/^0x[0-9a-fA-F]{40}$/);

    const listener = spawn(process.execPath, [CLI, "listen", "--api", node.url], {
      env: { ...process.env, XMTP_WALLET_KEY: b.key },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(listener);
    let out = "";
    let err = "";
    listener.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    listener.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const until = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 1800 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!cond()) throw new Error(`timed out: ${what} (stderr: ${err})`);
    };
    await until(() => err.includes(`listening as ${b.address}`), "listener ready");

    const sent = JSON.parse(
      (await xmtp("send", b.address, "hello", "from", "the", "cli", "--key", a.key)).stdout,
    );
    expect(sent).toMatchObject({ from: a.address, to: b.address });
    await until(() => out.includes("\n"), "a line from the listener");
    const got = JSON.parse(out.split("\n")[0]!);
    expect(got).toMatchObject({
      id: sent.id,
      topic: sent.topic,
      sender: a.address,
      content: "hello from the cli",
    });

    // The same identity, loaded by xmtp-js from the network, sees the conversation.
    const js = await clients.jsClient({ ...wallet(b.key as `0x${string}`) });
    const [convo] = await js.conversations.list();
    expect(convo?.topic).toBe(sent.topic);
    expect((await convo!.messages()).map((m) => m.content)).toEqual(["hello from the cli"]);
    // And its reply reaches the listener.
    await convo!.send("hi back");
    await until(() => out.split("\n").length > 2, "the reply");
    expect(JSON.parse(out.split("\n")[1]!)).toMatchObject({ sender: b.address, content: "hi back" });

    listener.kill("SIGINT");
    const code = await within(new Promise((r) => listener.once("exit", r)), 60_000, "listener exit");
    expect(code).toBe(0);
  });

  test("clear errors: no key, a bad address, a peer without an identity, an unreachable node", async () => {
    const noKey = await xmtp("send", wallet().address, "x").catch((e: { code: number; stderr: string }) => e);
    expect(noKey).toMatchObject({ code: 1 });
    expect((noKey as { stderr: string }).stderr).toBe(
      "error: no identity yet: run `xmtp login` first (or pass a wallet key with --key)\n",
    );
    const a = JSON.parse((await xmtp("identity")).stdout) as { key: string };
    const stranger = wallet().address;
    const r = await xmtp("send", stranger, "x", "--key", a.key).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(r).toMatchObject({ code: 1 });
    expect((r as { stderr: string }).stderr).toBe(
      `error: ${stranger} has no XMTP identity on this network yet\n`,
    );
    const bad = await xmtp("send", "0xnope", "x", "--key", a.key).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((bad as { stderr: string }).stderr).toBe('error: not an Ethereum address: "0xnope"\n');
    const down = await xmtp("send", stranger, "x", "--key", a.key, "--api", "http://127.0.0.1:1").catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(down).toMatchObject({ code: 1 });
    expect((down as { stderr: string }).stderr).toMatch(
      /^error: cannot start a client on http:\/\/127\.0\.0\.1:1: /,
    );
  });
});
