// Group invitation rounds (docs/groups.md §10): the time and bytes of `newGroup` with N members
// through a spawned node (contact lookups, one sealed copy per member, one publish, consent),
// against the baseline of the same client starting a two-party conversation in the same run; and
// the size of one sealed copy and the sealing time beyond the cap, to show how a round grows.
//
//   npx tsc -b packages/cli packages/client && node bench/groups.mjs
//
// Env: BENCH_GROUP_SIZES (default 5,25,50,100), BENCH_SEAL_SIZES (200,400), BENCH_ROUNDS (3).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ApiClient,
  createPrivateKeyBundle,
  fromViemAccount,
  GROUP_KEYS,
  localAuthenticator,
  MAX_GROUP_MEMBERS,
  ownKeysFromBundleV1,
  publishContactBundles,
  sealInvitation,
} from "../packages/client/dist/advanced.js";
import { Client } from "../packages/client/dist/index.js";
import { InvitationV1Schema } from "../packages/proto/dist/index.js";

const SIZES = (process.env.BENCH_GROUP_SIZES ?? "5,25,50,100").split(",").map(Number);
const SEAL_SIZES = (process.env.BENCH_SEAL_SIZES ?? "200,400").split(",").map(Number);
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

async function startNode() {
  const [http, grpc] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), "xmtp-bench-groups-"));
  const args = ["node", "--http-port", String(http), "--grpc-port", String(grpc), "--p2p-port", "0"];
  const proc = spawn(
    process.execPath,
    [CLI, ...args, "--data-dir", dataDir, "--host", "127.0.0.1", "--log-level", "warn"],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, proc, dataDir };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("node did not start");
}

/** A fresh identity; with `url`, its contact bundle is published there. */
async function identity(url) {
  const bundle = await createPrivateKeyBundle(fromViemAccount(privateKeyToAccount(generatePrivateKey())));
  if (url) {
    const api = new ApiClient({ apiUrl: url });
    api.setAuthenticator(localAuthenticator(bundle));
    await publishContactBundles(api, bundle);
  }
  return ownKeysFromBundleV1(bundle);
}

/** The node API with a count of the invitation envelopes and bytes published through it. */
function countingApi(url) {
  const inner = new ApiClient({ apiUrl: url });
  const count = { envelopes: 0, bytes: 0 };
  const api = new Proxy(inner, {
    get(target, prop) {
      if (prop === "publish")
        return (envs) => {
          for (const e of envs)
            if (e.contentTopic.startsWith("/xmtp/0/invite-")) {
              count.envelopes++;
              count.bytes += e.message.length;
            }
          return target.publish(envs);
        };
      const v = target[prop];
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { api, count };
}

const fmt = (n, d = 1) => n.toFixed(d);
const kb = (b) => `${fmt(b / 1024)} KiB`;

const node = await startNode();
try {
  console.log(
    `# Group invitation rounds (${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version})`,
  );
  const { api, count } = countingApi(node.url);
  const creator = await Client.create(fromViemAccount(privateKeyToAccount(generatePrivateKey())), { api });
  const biggest = Math.max(...SIZES) - 1;
  console.log(`setup: ${biggest} members with published contacts`);
  const members = [];
  for (let i = 0; i < biggest; i++) members.push((await identity(node.url)).address);
  const peers = [];
  for (let i = 0; i < ROUNDS; i++) peers.push((await identity(node.url)).address);

  // Baseline: a two-party conversation (contact lookup, derive, seal, publish, consent).
  let base = { ms: Infinity, bytes: 0 };
  for (const peer of peers) {
    count.envelopes = count.bytes = 0;
    const t = performance.now();
    await creator.conversations.newConversation(peer);
    const ms = performance.now() - t;
    if (ms < base.ms) base = { ms, bytes: count.bytes };
  }
  console.log(`baseline two-party invitation: ${fmt(base.ms)} ms, ${base.bytes} B in 2 envelopes`);
  console.log("");
  console.log(
    "| members | round time | ratio to two-party | invitation bytes | envelopes | one sealed copy |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const n of SIZES) {
    if (n > MAX_GROUP_MEMBERS) continue;
    let best = { ms: Infinity, bytes: 0, envelopes: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      count.envelopes = count.bytes = 0;
      const t = performance.now();
      await creator.conversations.newGroup(members.slice(0, n - 1), { name: `bench ${n}` });
      const ms = performance.now() - t;
      if (ms < best.ms) best = { ms, bytes: count.bytes, envelopes: count.envelopes };
    }
    console.log(
      `| ${n} | ${fmt(best.ms)} ms | ${fmt(best.ms / base.ms, 2)}× | ${kb(best.bytes)} | ${best.envelopes} | ${Math.round(best.bytes / best.envelopes)} B |`,
    );
  }

  // Beyond the cap: the invitation alone (no contacts, no publish), sealed to every member.
  console.log("");
  console.log("| members (beyond the cap) | sealing time | bytes of one round | one sealed copy |");
  console.log("| ---: | ---: | ---: | ---: |");
  for (const n of SEAL_SIZES) {
    const keys = [];
    for (let i = 0; i < n - 1; i++) keys.push(await identity());
    const list = [creator.address, ...keys.map((k) => k.address)].sort();
    const invitation = create(InvitationV1Schema, {
      topic: `/xmtp/0/m-${"ab".repeat(32)}/proto`,
      // Written by hand: the SDK refuses lists over the cap.
      context: {
        conversationId: `xmtp-ts/group/${"cd".repeat(16)}`,
        metadata: {
          [GROUP_KEYS.version]: "1",
          [GROUP_KEYS.id]: "cd".repeat(16),
          [GROUP_KEYS.creator]: creator.address,
          [GROUP_KEYS.members]: list.join(","),
          [GROUP_KEYS.epoch]: "0",
          [GROUP_KEYS.revision]: "0",
        },
      },
      encryption: { case: "aes256GcmHkdfSha256", value: { keyMaterial: new Uint8Array(32) } },
    });
    const createdNs = BigInt(Date.now()) * 1_000_000n;
    const t = performance.now();
    const sealed = await Promise.all(
      keys.map((k) => sealInvitation(creator.keys, k.signedBundle, invitation, createdNs)),
    );
    const ms = performance.now() - t;
    const bytes = sealed.reduce((s, b) => s + b.length, 0) + sealed[0].length;
    console.log(`| ${n} | ${fmt(ms)} ms | ${kb(bytes)} | ${sealed[0].length} B |`);
  }
  await creator.close();
} finally {
  node.proc.kill("SIGTERM");
  await new Promise((r) => node.proc.once("exit", r));
  rmSync(node.dataDir, { recursive: true, force: true });
}
