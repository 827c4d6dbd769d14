/**
 * The terminal chat against a real node process, with an unmodified xmtp-js 12.1.0 client as the
 * peer: `xmtp login`, `send` (arguments and stdin), `messages`, `conversations`, and `chat` driven
 * in a pseudo-terminal. Run `npx tsc -b packages/cli packages/client` first.
 */
import type { DecodedMessage, Client as XmtpJsClient } from "@xmtp/xmtp-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cliEnv, newConfigDir, Terminal, xmtpOk } from "./cli-support.js";
import { Clients, nextOf, wallet, within } from "./client-helpers.js";
import { type NodeProcess, spawnNode } from "./node-process.js";

// Each test runs several CLI processes one after the other; a busy machine makes them slow.
const SLOW = 240_000;
let node: NodeProcess;
const clients = new Clients(() => node.url);
const terminals: Terminal[] = [];
let env: NodeJS.ProcessEnv;
let me: string;
let peer: XmtpJsClient;

beforeAll(async () => {
  node = await spawnNode();
  env = cliEnv(node.url, newConfigDir());
  me = JSON.parse((await xmtpOk(env, ["login", "--json"])).stdout).address;
  peer = await clients.jsClient(wallet());
});
afterAll(async () => {
  for (const t of terminals) t.kill();
  await clients.closeAll();
  expect(await node.stop()).toBe(0);
});

const texts = (ms: DecodedMessage[]) => ms.map((m) => m.content);

describe("xmtp send, messages and conversations with an xmtp-js peer", { timeout: SLOW }, () => {
  test("texts go both ways; the history and the conversation list show them", async () => {
    const sent = await xmtpOk(env, ["send", peer.address, "hello", "from", "the", "terminal"]);
    expect(sent.stdout).toBe(`sent to ${peer.address}\n`);
    // From stdin (the one newline `echo` adds is not part of the message), printed as JSON.
    const piped = JSON.parse((await xmtpOk(env, ["send", peer.address, "--json"], "second line\n")).stdout);
    expect(piped).toMatchObject({ from: me, to: peer.address });

    const [convo] = await peer.conversations.list();
    expect(convo?.peerAddress).toBe(me);
    expect(texts(await convo!.messages())).toEqual(["hello from the terminal", "second line"]);
    await convo!.send("hi from xmtp-js");

    const lines = (await xmtpOk(env, ["messages", peer.address])).stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d {2}me {11}hello from the terminal$/);
    expect(lines[2]).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  ${peer.address.slice(0, 6)}…${peer.address.slice(-4)}  hi from xmtp-js$`,
      ),
    );
    const last = (await xmtpOk(env, ["messages", peer.address, "--limit", "1", "--json"])).stdout;
    expect(
      last
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      expect.objectContaining({
        sender: peer.address,
        mine: false,
        content: "hi from xmtp-js",
        topic: convo!.topic,
      }),
    ]);

    const list = (await xmtpOk(env, ["conversations"])).stdout;
    expect(list).toMatch(
      new RegExp(`^${peer.address}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  hi from xmtp-js\\n$`),
    );
    const [row] = (await xmtpOk(env, ["conversations", "--json"])).stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(row).toMatchObject({
      peerAddress: peer.address,
      topic: convo!.topic,
      consent: "allowed",
      latest: { content: "hi from xmtp-js", mine: false },
    });
  });
});

describe("xmtp chat in a terminal", { timeout: SLOW }, () => {
  test("history, then live messages both ways; Ctrl-D leaves", async () => {
    const [convo] = await peer.conversations.list();
    const t = new Terminal(env, ["chat", peer.address]);
    terminals.push(t);
    await t.waitFor(`chatting with ${peer.address} as ${me}`);
    await t.waitFor("hi from xmtp-js"); // the history
    await t.waitFor("> ");

    const stream = await convo!.streamMessages();
    t.type("typed in the terminal\r");
    const got = await nextOf(stream, "the typed line at the xmtp-js peer", 90_000);
    expect(got.content).toBe("typed in the terminal");
    await t.waitFor(/me {11}typed in the terminal/);

    await convo!.send("live from xmtp-js");
    await t.waitFor(/0x[0-9a-fA-F]{4}…[0-9a-fA-F]{4} {2}live from xmtp-js/);
    await stream.return?.();

    t.type("\x04");
    expect(await within(t.exited, 60_000, "chat exits on Ctrl-D")).toBe(0);
  });

  test("Ctrl-C leaves cleanly too; --json prints messages as JSON lines", async () => {
    const t = new Terminal(env, ["chat", peer.address, "--json", "--limit", "1"]);
    terminals.push(t);
    await t.waitFor('"content":"live from xmtp-js"');
    expect(t.screen()).not.toContain("typed in the terminal"); // --limit 1
    t.type("\x03");
    expect(await within(t.exited, 60_000, "chat exits on Ctrl-C")).toBe(0);
  });

  test("Ctrl-C as soon as it starts (while it may still be syncing) leaves cleanly", async () => {
    const t = new Terminal(env, ["chat", peer.address]);
    terminals.push(t);
    await t.waitFor(`chatting with ${peer.address}`);
    t.type("\x03");
    expect(await within(t.exited, 60_000, "chat exits on an early Ctrl-C")).toBe(0);
  });

  test("lines piped into chat are sent in order, then it exits", async () => {
    const [convo] = await peer.conversations.list();
    const before = (await convo!.messages()).length;
    const r = await xmtpOk(env, ["chat", peer.address], "one\ntwo\n\nthree\n");
    // No prompts in piped output: one line per message.
    expect(r.stdout.trimEnd().split("\n").slice(-3)).toEqual([
      expect.stringMatching(/ {2}me {11}one$/),
      expect.stringMatching(/ {2}me {11}two$/),
      expect.stringMatching(/ {2}me {11}three$/),
    ]);
    const after = texts(await convo!.messages()).slice(before);
    expect(after).toEqual(["one", "two", "three"]);
  });
});
