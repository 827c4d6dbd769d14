/**
 * Groups from the terminal against a real node process: `xmtp group create | members | add |
 * remove`, `conversations`, `send`, `messages` and `chat` (in a pseudo-terminal) on a group whose
 * other members are our SDK and an unmodified xmtp-js 12.1.0 client. Run `npx tsc -b packages/cli
 * packages/client` first.
 */
import type { Client as XmtpJsClient } from "@xmtp/xmtp-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Client, Group } from "../packages/client/src/index.js";
import { cliEnv, newConfigDir, Terminal, xmtp, xmtpOk } from "./cli-support.js";
import { Clients, nextOf, wallet, within } from "./client-helpers.js";
import { waitFor } from "./network-support.js";
import { type NodeProcess, spawnNode } from "./node-process.js";

const SLOW = 300_000;
let node: NodeProcess;
const clients = new Clients(() => node.url);
const terminals: Terminal[] = [];
let env: NodeJS.ProcessEnv;
let me: string;
const bobWallet = wallet();
let bob: Client;
let carol: XmtpJsClient;
let dave: Client;

beforeAll(async () => {
  node = await spawnNode();
  // No progress lines on stderr (a busy machine makes steps slow enough to show them).
  env = cliEnv(node.url, newConfigDir(), { XMTP_PROGRESS_DELAY_MS: "600000" });
  me = JSON.parse((await xmtpOk(env, ["login", "--json"])).stdout).address;
  [bob, carol, dave] = await Promise.all([
    clients.ourClient(bobWallet),
    clients.jsClient(wallet()),
    clients.ourClient(wallet()),
  ]);
});
afterAll(async () => {
  for (const t of terminals) t.kill();
  await clients.closeAll();
  expect(await node.stop()).toBe(0);
});

const jsonLines = (s: string) =>
  s
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

async function groupOf(c: Client, id: string): Promise<Group> {
  let g: Group | undefined;
  await waitFor(
    "the member lists the group",
    async () => {
      g = (await c.conversations.list()).find((x): x is Group => x instanceof Group && x.id === id);
      return g !== undefined;
    },
    60_000,
  );
  return g!;
}

describe("xmtp group", { timeout: SLOW }, () => {
  let id: string;
  let shortId: string;
  let topic: string;

  test("create, members, conversations; send and messages with an SDK and an xmtp-js member", async () => {
    const created = JSON.parse(
      (
        await xmtpOk(env, [
          "group",
          "create",
          bob.address,
          carol.address,
          "--name",
          "ops",
          "--description",
          "on call",
          "--json",
        ])
      ).stdout,
    );
    expect(created).toMatchObject({
      name: "ops",
      description: "on call",
      creator: me,
      members: [me, bob.address, carol.address].sort(),
      active: true,
      mine: true,
    });
    ({ groupId: id, shortId, topic } = created);
    expect(shortId).toBe(id.slice(0, 8));

    const members = jsonLines((await xmtpOk(env, ["group", "members", shortId, "--json"])).stdout);
    expect(members).toHaveLength(3);
    expect(members.find((m) => m.creator)).toMatchObject({ address: me });
    const text = (await xmtpOk(env, ["group", "members", "ops"])).stdout;
    expect(text).toContain(`${me}  (creator, you)`);

    expect((await xmtpOk(env, ["send", shortId, "hello", "all"])).stdout).toBe(
      `sent to group "ops" (${shortId}, 3 members)\n`,
    );

    const b = await groupOf(bob, id);
    expect(b.name).toBe("ops");
    const jsConvo = (await carol.conversations.list()).find((c) => c.topic === topic);
    expect(jsConvo).toBeDefined();
    const jsTexts = async () =>
      (await jsConvo!.messages()).filter((m) => m.contentType.typeId === "text").map((m) => m.content);
    expect(await jsTexts()).toEqual(["hello all"]);
    expect((await b.messages()).map((m) => [m.senderAddress, m.content])).toEqual([[me, "hello all"]]);

    await b.send("hi from bob");
    await jsConvo!.send("hi from xmtp-js");
    const lines = (await xmtpOk(env, ["messages", shortId])).stdout.trimEnd().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/ {2}me {11}hello all$/),
      expect.stringMatching(new RegExp(` {2}${short(bob.address)} {2}hi from bob$`)),
      expect.stringMatching(new RegExp(` {2}${short(carol.address)} {2}hi from xmtp-js$`)),
    ]);
    const json = jsonLines((await xmtpOk(env, ["messages", topic, "--json"])).stdout);
    expect(json.map((m) => [m.sender, m.content])).toEqual([
      [me, "hello all"],
      [bob.address, "hi from bob"],
      [carol.address, "hi from xmtp-js"],
    ]);

    const list = (await xmtpOk(env, ["conversations"])).stdout;
    expect(list).toMatch(
      new RegExp(
        `^group "ops" \\(${shortId}, 3 members\\) {2}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d {2}${short(carol.address)}: hi from xmtp-js\\n$`,
      ),
    );
    const [row] = jsonLines((await xmtpOk(env, ["conversations", "--json"])).stdout);
    expect(row).toMatchObject({
      topic,
      group: { groupId: id, name: "ops" },
      latest: { sender: carol.address },
    });
  });

  test("clear errors: unknown group, stranger, invalid address, too many, not the creator", async () => {
    const unknown = await xmtp(env, ["send", "nosuchgroup", "x"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: no group matches "nosuchgroup"/);
    const stranger = wallet().address;
    const r = await xmtp(env, ["group", "create", bob.address, stranger]);
    expect(r.stderr).toBe(`error: cannot change the group: not on the XMTP network: ${stranger}\n`);
    const bad = await xmtp(env, ["group", "create", "0x123"]);
    expect(bad.stderr).toBe('error: not an Ethereum address: "0x123"\n');
    const many = Array.from({ length: 100 }, () => wallet().address);
    const tooMany = await xmtp(env, ["group", "create", ...many]);
    expect(tooMany.stderr).toMatch(/^error: cannot change the group: .*at most 100/);

    // Bob (not the creator) from the terminal: refused before anything is published.
    const bobEnv = cliEnv(node.url, newConfigDir(), {
      XMTP_WALLET_KEY: bobWallet.key,
      XMTP_PROGRESS_DELAY_MS: "600000",
    });
    const notCreator = await xmtp(bobEnv, ["group", "add", shortId, dave.address]);
    expect(notCreator.stderr).toBe(`error: only the group's creator (${me}) can add members\n`);
  });

  test("chat on a group in a terminal: history with senders, live both ways", async () => {
    const b = await groupOf(bob, id);
    const t = new Terminal(env, ["chat", shortId]);
    terminals.push(t);
    await t.waitFor(`chatting in group "ops" (${shortId}, 3 members) as ${me}`);
    await t.waitFor(`${short(carol.address)}  hi from xmtp-js`);
    await t.waitFor("> ");
    const stream = await b.streamMessages();
    t.type("typed in the terminal\r");
    const got = await nextOf(stream, "the typed line at bob", 90_000);
    expect([got.senderAddress, got.content]).toEqual([me, "typed in the terminal"]);
    await b.send("live from bob");
    await t.waitFor(`${short(bob.address)}  live from bob`);
    await stream.return?.();
    t.type("\x04");
    expect(await within(t.exited, 60_000, "chat exits on Ctrl-D")).toBe(0);
  });

  test("add a member who then reads the group; remove one (a new epoch)", async () => {
    const added = JSON.parse((await xmtpOk(env, ["group", "add", shortId, dave.address, "--json"])).stdout);
    expect(added.members).toEqual([me, bob.address, carol.address, dave.address].sort());
    const d = await groupOf(dave, id);
    expect((await d.messages()).filter((m) => typeof m.content === "string").map((m) => m.content)).toContain(
      "hello all",
    );
    await d.send("dave here");
    await waitFor("the CLI reads dave", async () =>
      (await xmtpOk(env, ["messages", shortId])).stdout.includes(`${short(dave.address)}  dave here`),
    );
    const history = (await xmtpOk(env, ["messages", shortId])).stdout;
    expect(history).toContain(`* added ${short(dave.address)} to the group`);

    const removed = JSON.parse(
      (await xmtpOk(env, ["group", "remove", shortId, carol.address, "--json"])).stdout,
    );
    expect(removed).toMatchObject({ epoch: 1, members: [me, bob.address, dave.address].sort() });
    expect(removed.topic).not.toBe(topic);
    await xmtpOk(env, ["send", shortId, "after the removal"]);
    const b = await groupOf(bob, id);
    await waitFor("bob reads the new epoch", async () => {
      await bob.conversations.list();
      return (await b.messages()).some((m) => m.content === "after the removal");
    });
    const after = (await xmtpOk(env, ["messages", shortId])).stdout;
    expect(after).toContain(
      `* removed ${short(carol.address)}; the group goes on in a new epoch without them`,
    );
    expect(after).toMatch(/ {2}me {11}after the removal\n$/);
  });
});
