/**
 * `xmtp login | whoami | logout` and the errors of the client commands, against a real node
 * process; an identity made by xmtp-js 12.1.0 is imported with `--key-file`. Run
 * `npx tsc -b packages/cli packages/client` first.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cliEnv, newConfigDir, Terminal, xmtp, xmtpOk } from "./cli-support.js";
import { Clients, wallet, within } from "./client-helpers.js";
import { type NodeProcess, spawnNode } from "./node-process.js";

// Each test runs several CLI processes one after the other; a busy machine makes them slow.
const SLOW = 240_000;
let node: NodeProcess;
const clients = new Clients(() => node.url);
const terminals: Terminal[] = [];

beforeAll(async () => {
  node = await spawnNode();
});
afterAll(async () => {
  for (const t of terminals) t.kill();
  await clients.closeAll();
  expect(await node.stop()).toBe(0);
});

describe("xmtp login, whoami and logout", { timeout: SLOW }, () => {
  test("login saves a new identity (mode 0600) that whoami reads; a second login is refused", async () => {
    const dir = newConfigDir();
    const env = cliEnv(node.url, dir);
    const r = await xmtpOk(env, ["login"]);
    const address = /^logged in as (0x[0-9a-fA-F]{40}) on /.exec(r.stdout)?.[1];
    expect(address).toBeDefined();
    expect(r.stderr).toContain("it holds the only copy of the new wallet key: back it up");
    const file = join(dir, "identity.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ address, apiUrl: node.url });

    expect((await xmtpOk(env, ["whoami"])).stdout).toBe(
      `${address}\nnode      ${node.url}\nidentity  ${file}\n`,
    );
    expect(JSON.parse((await xmtpOk(env, ["whoami", "--json"])).stdout)).toEqual({
      address,
      apiUrl: node.url,
      identityFile: file,
    });
    // Later commands use the node login used, without XMTP_API_URL.
    const { XMTP_API_URL: _, ...withoutApi } = env;
    expect(JSON.parse((await xmtpOk(withoutApi, ["whoami", "--json"])).stdout).apiUrl).toBe(node.url);

    const again = await xmtp(env, ["login"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `error: already logged in as ${address} (${file}); run \`xmtp logout\` first\n`,
    );
  });

  test("--key-file brings an xmtp-js identity: same keys from the network backup, its messages readable", async () => {
    const w = wallet();
    const theirs = await clients.jsClient(w);
    const friend = await clients.jsClient(wallet());
    await (await friend.conversations.newConversation(theirs.address)).send("to the xmtp-js identity");

    const dir = newConfigDir();
    const env = cliEnv(node.url, dir);
    writeFileSync(join(dir, "wallet.key"), `${w.key}\n`, { mode: 0o600 });
    const r = JSON.parse(
      (await xmtpOk(env, ["login", "--key-file", join(dir, "wallet.key"), "--json"])).stdout,
    );
    expect(r).toMatchObject({ address: w.address, keySource: "network" });
    const lines = (await xmtpOk(env, ["messages", friend.address])).stdout;
    expect(lines).toMatch(/ {2}to the xmtp-js identity\n$/);
  });

  test("logout asks first (and refuses without a terminal unless --yes); then whoami says to log in", async () => {
    const dir = newConfigDir();
    const env = cliEnv(node.url, dir);
    const { address } = JSON.parse((await xmtpOk(env, ["login", "--json"])).stdout);
    const file = join(dir, "identity.json");

    const piped = await xmtp(env, ["logout"]);
    expect(piped.code).toBe(1);
    expect(piped.stderr).toContain(`logout deletes the wallet key of ${address}`);
    expect(existsSync(file)).toBe(true);

    const no = new Terminal(env, ["logout"]);
    terminals.push(no);
    await no.waitFor(`Delete the identity of ${address}?`);
    no.type("n\r");
    expect(await within(no.exited, 60_000, "logout answered no")).toBe(0);
    expect(existsSync(file)).toBe(true);

    const yes = new Terminal(env, ["logout"]);
    terminals.push(yes);
    await yes.waitFor("[y/N]");
    yes.type("y\r");
    expect(await within(yes.exited, 60_000, "logout answered yes")).toBe(0);
    expect(yes.screen()).toContain(`logged out ${address}`);
    expect(readdirSync(dir)).toEqual([]); // the identity and the conversation cache

    const who = await xmtp(env, ["whoami"]);
    expect(who).toMatchObject({ code: 1, stderr: "error: no identity yet: run `xmtp login`\n" });
    expect((await xmtpOk(env, ["logout", "--yes"])).stderr).toBe("not logged in\n");
  });
});

describe("clear errors", { timeout: SLOW }, () => {
  test("no identity, a bad or own address, a peer not on the network, an unreachable node", async () => {
    const none = cliEnv(node.url, newConfigDir());
    for (const args of [["conversations"], ["messages", wallet().address], ["chat", wallet().address]]) {
      const r = await xmtp(none, args);
      expect(r, args[0]).toMatchObject({
        code: 1,
        stderr: "error: no identity yet: run `xmtp login` first (or pass a wallet key with --key)\n",
      });
    }

    const env = cliEnv(node.url, newConfigDir());
    const { address } = JSON.parse((await xmtpOk(env, ["login", "--json"])).stdout);
    const stranger = wallet().address;
    for (const args of [
      ["send", stranger, "hi"],
      ["chat", stranger],
    ]) {
      expect(await xmtp(env, args), args[0]).toMatchObject({
        code: 1,
        stderr: `error: ${stranger} has no XMTP identity on this network yet\n`,
      });
    }
    expect(await xmtp(env, ["messages", "0x12"])).toMatchObject({
      code: 1,
      stderr: 'error: not an Ethereum address: "0x12"\n',
    });
    expect(await xmtp(env, ["send", address, "hi"])).toMatchObject({
      code: 1,
      stderr: "error: that is your own address: XMTP V2 conversations are between two addresses\n",
    });
    expect(await xmtp(env, ["send", stranger], "")).toMatchObject({
      code: 1,
      stderr: "error: nothing to send: give the text as arguments or on stdin\n",
    });
    expect(await xmtp(env, ["messages", stranger, "--limit", "0"])).toMatchObject({ code: 1 });

    const down = await xmtp(env, ["conversations", "--api", "http://127.0.0.1:1"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /^error: cannot start a client on http:\/\/127\.0\.0\.1:1: the node is unreachable \(.*\); is it running\? Choose another with --api or XMTP_API_URL\n$/,
    );
  });

  test("a long sync shows progress on stderr; the next run starts from the saved conversations; requests are answered, blocked, allowed", async () => {
    const env = cliEnv(node.url, newConfigDir(), { XMTP_PROGRESS_DELAY_MS: "0" });
    const { address } = JSON.parse((await xmtpOk(env, ["login", "--json"])).stdout);
    const friend = await clients.jsClient(wallet());
    await (await friend.conversations.newConversation(address)).send("gm");
    const r = await xmtpOk(env, ["conversations"]);
    expect(r.stderr).toContain("syncing conversations…\nsyncing conversations: 1 conversations (");
    expect(r.stdout).toMatch(new RegExp(`^${friend.address}  .*  \\(request\\) gm\\n$`));
    const cache = join(env.XMTP_CONFIG_DIR!, "cache");
    const snapshots = readdirSync(cache);
    expect(snapshots).toHaveLength(1);
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    expect(statSync(join(cache, snapshots[0]!)).mode & 0o777).toBe(0o600);

    // Answering accepts the request; block and allow change it on the network's consent list.
    await xmtpOk(env, ["send", friend.address, "gm to you too"]);
    const consent = async () =>
      JSON.parse((await xmtpOk(env, ["conversations", "--json"])).stdout.trimEnd()).consent;
    expect(await consent()).toBe("allowed");
    expect((await xmtpOk(env, ["block", friend.address])).stdout).toBe(`blocked ${friend.address}\n`);
    expect(await consent()).toBe("denied");
    expect((await xmtpOk(env, ["conversations"])).stdout).toContain("(blocked) me: gm to you too");
    expect(JSON.parse((await xmtpOk(env, ["allow", friend.address, "--json"])).stdout)).toEqual({
      address: friend.address,
      consent: "allowed",
    });
    expect(await consent()).toBe("allowed");
  });
});
