// Client SDK benchmark: our client against unmodified @xmtp/xmtp-js 12.1.0 doing the same work on
// the same node (spawned `xmtp node`, SQLite) in the same run. Each measured task runs in a fresh
// process per SDK (bench/client-worker.mjs), so clients are cold and peak RSS is per SDK.
//
//   npx tsc -b packages/cli packages/client && node bench/client.mjs
//
// Env: BENCH_INVITES (default 1000), BENCH_MESSAGES (10000), BENCH_CREATE (100), BENCH_ROUNDS (2),
// BENCH_NO_DOCS=1.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  Client,
  createInvitation,
  createPrivateKeyBundle,
  defaultCodecRegistry,
  deriveInvitationSecrets,
  encodeContent,
  encodeMessageV2,
  fromViemAccount,
  invitationEnvelopes,
  networkClientApi,
  ownKeysFromBundleV1,
  publishContactBundles,
  sealInvitation,
  v2Envelope,
} from "../packages/client/dist/index.js";

const INVITES = Number(process.env.BENCH_INVITES ?? 1000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10000);
const CREATE = Number(process.env.BENCH_CREATE ?? 100);
// Each task runs ROUNDS times per SDK, interleaved (ours, xmtp-js, ours, …); the best time of each
// counts, which keeps a busy machine from deciding the ratio.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));
const WORKER = fileURLToPath(new URL("./client-worker.mjs", import.meta.url));
const NOTES = [
  "Reading the numbers:",
  "- Listing is bound by per-invitation public-key work a cold client cannot cache, and the",
  "  architecture keeps to OpenSSL (node:crypto) and noble for it: three secp256k1 ECDHs (OpenSSL via",
  "  KeyObjects, ~1.0 ms each on this machine, plus ~0.45 ms to import each of the peer's two keys),",
  "  one wallet-signature recovery (noble, ~2.9 ms; OpenSSL has no recovery) and one pre-key",
  "  signature check (OpenSSL, ~0.7 ms): ~7.5 ms per invitation on one thread against ~16 ms for",
  "  xmtp-js. The worker pool spreads it over the 2 CPUs here, which give ~1.5× together, so the 5×",
  "  goal is out of reach on this machine; with more cores the pool (up to 8 workers) scales further.",
  "- Reading messages costs one OpenSSL signature verification per message; pre-key checks and wallet",
  "  recoveries are cached per sender bundle, and pages are decrypted in the pool while the next page loads.",
  "- Creating a conversation fetches the contact, the intros and new invites together, and derives and",
  "  seals the invitation with three ECDHs instead of six. Both SDKs publish a consent allow per",
  "  created conversation.",
  "- Our peak RSS includes the worker threads. Timings move with machine load: this run found the",
  "  shared machine about 2× slower than the 2026-11-25 run (2.41× / 13.31× / 7.99× then); an",
  "  earlier run the same day gave 3.22× / 13.17× / 5.98×.",
];

const lines = [];
const out = (s) => {
  console.log(s);
  lines.push(s);
};

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
  const dataDir = mkdtempSync(join(tmpdir(), "xmtp-bench-client-"));
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "node",
      "--http-port",
      String(http),
      "--grpc-port",
      String(grpc),
      "--p2p-port",
      "0",
      "--data-dir",
      dataDir,
      "--host",
      "127.0.0.1",
      "--log-level",
      "warn",
    ],
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

const run = promisify(execFile);
async function measure(sdk, task, args) {
  const { stdout } = await run(process.execPath, [WORKER, sdk, task, JSON.stringify(args)], {
    maxBuffer: 1 << 24,
  });
  return JSON.parse(stdout.trim().split("\n").pop());
}

async function newIdentity(url, { contact = false } = {}) {
  const key = generatePrivateKey();
  const bundle = await createPrivateKeyBundle(fromViemAccount(privateKeyToAccount(key)));
  if (contact) {
    const api = networkClientApi(url);
    api.setIdentity(bundle);
    await publishContactBundles(api, bundle);
  }
  return { key, bundle, keys: ownKeysFromBundleV1(bundle) };
}

async function inBatches(api, envs, size = 200) {
  for (let i = 0; i < envs.length; i += size) await api.publish(envs.slice(i, i + size));
}

const node = await startNode();
try {
  out(`# Client SDK benchmark (${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version})`);
  // The lister / reader identity, stored on the network so both SDKs load the same keys.
  const aliceKey = generatePrivateKey();
  const alice = await Client.create(fromViemAccount(privateKeyToAccount(aliceKey)), { apiUrl: node.url });
  const api = alice.api;

  // 1. INVITES invitations to Alice from as many distinct peers.
  let t = performance.now();
  let bob;
  const envs = [];
  const base = BigInt(Date.now() - 86_400_000) * 1_000_000n;
  for (let i = 0; i < INVITES; i++) {
    const peer = await newIdentity(node.url);
    if (i === 0) bob = peer;
    const inv = await createInvitation(peer.keys, alice.keys.signedBundle, alice.address);
    const createdNs = base + BigInt(i) * 1_000_000n;
    const sealed = await sealInvitation(peer.keys, alice.keys.signedBundle, inv, createdNs);
    envs.push(...invitationEnvelopes(sealed, createdNs, alice.address, peer.keys.address));
  }
  await inBatches(api, envs);
  out(`setup: ${INVITES} invitations from ${INVITES} peers in ${Math.round(performance.now() - t)} ms`);

  // 2. MESSAGES V2 messages between Alice and the first peer, from both sides.
  t = performance.now();
  const { topic, keyMaterial } = await deriveInvitationSecrets(
    bob.keys,
    alice.keys.signedBundle,
    alice.address,
  );
  const registry = defaultCodecRegistry();
  const msgEnvs = [];
  for (let i = 0; i < MESSAGES; i++) {
    const { payload } = await encodeContent(`message number ${i}`, {}, registry);
    const createdNs = base + 10_000_000_000n + BigInt(i) * 1_000n;
    const own = i % 2 === 0 ? bob.keys : alice.keys;
    const m = await encodeMessageV2({ own, topic, keyMaterial, payload, createdNs, shouldPush: true });
    msgEnvs.push(v2Envelope(topic, createdNs, m.bytes));
  }
  await inBatches(api, msgEnvs, 500);
  out(`setup: ${MESSAGES} messages in ${Math.round(performance.now() - t)} ms`);

  // 3. Peers with contacts for newConversation: fresh sets per SDK and round, so nothing is reused.
  t = performance.now();
  const createSets = [];
  for (let r = 0; r < ROUNDS; r++) {
    const set = {};
    for (const sdk of ["ours", "xmtpjs"]) {
      const peers = [];
      for (let i = 0; i < CREATE; i++)
        peers.push((await newIdentity(node.url, { contact: true })).keys.address);
      const key = generatePrivateKey();
      await (await Client.create(fromViemAccount(privateKeyToAccount(key)), { apiUrl: node.url })).close();
      set[sdk] = { apiUrl: node.url, key, peers };
    }
    createSets.push(set);
  }
  out(`setup: ${2 * ROUNDS * CREATE} peers with contacts in ${Math.round(performance.now() - t)} ms`);
  await alice.close();

  const rows = [];
  const compare = async (name, goal, argsFor, expectCount) => {
    let o;
    let j;
    for (let r = 0; r < ROUNDS; r++) {
      const ro = await measure("ours", name, argsFor("ours", r));
      const rj = await measure("xmtpjs", name, argsFor("xmtpjs", r));
      if (ro.count !== expectCount || rj.count !== expectCount)
        throw new Error(`${name}: expected ${expectCount}, ours ${ro.count}, xmtp-js ${rj.count}`);
      out(`  ${name} round ${r + 1}: ours ${ro.ms} ms, xmtp-js ${rj.ms} ms`);
      if (!o || ro.ms < o.ms) o = { ...ro, maxRssMB: Math.max(ro.maxRssMB, o?.maxRssMB ?? 0) };
      else o.maxRssMB = Math.max(o.maxRssMB, ro.maxRssMB);
      if (!j || rj.ms < j.ms) j = { ...rj, maxRssMB: Math.max(rj.maxRssMB, j?.maxRssMB ?? 0) };
      else j.maxRssMB = Math.max(j.maxRssMB, rj.maxRssMB);
    }
    const ratio = j.ms / o.ms;
    rows.push({ name, goal, o, j, ratio });
    out(
      `${name}: ours ${o.ms} ms (${o.maxRssMB} MB peak RSS), xmtp-js ${j.ms} ms (${j.maxRssMB} MB) → ${ratio.toFixed(2)}× (goal ≥ ${goal}×)`,
    );
  };
  await compare("list", 5, () => ({ apiUrl: node.url, key: aliceKey }), INVITES);
  await compare("decrypt", 5, () => ({ apiUrl: node.url, key: aliceKey, topic }), MESSAGES);
  await compare("create", 3, (sdk, r) => createSets[r][sdk], CREATE);

  // A restarted client with a conversation store (ours; xmtp-js in Node keeps its cache in memory):
  // one cold run with the store fills it, then fresh processes start from it.
  const storePath = join(tmpdir(), `xmtp-bench-store-${process.pid}.bin`);
  let warm;
  try {
    await measure("ours", "list", { apiUrl: node.url, key: aliceKey, storePath });
    for (let r = 0; r < ROUNDS; r++) {
      const w = await measure("ours", "list-warm", { apiUrl: node.url, key: aliceKey, storePath });
      if (w.count !== INVITES) throw new Error(`list-warm: expected ${INVITES}, got ${w.count}`);
      out(`  list-warm round ${r + 1}: ours ${w.ms} ms (client start included)`);
      if (!warm || w.ms < warm.ms) warm = w;
    }
  } finally {
    rmSync(storePath, { force: true });
  }

  const labels = {
    list: `list ${INVITES} conversations, cold client`,
    decrypt: `read and decrypt ${MESSAGES} V2 messages`,
    create: `create ${CREATE} conversations`,
  };
  const table = [
    "| task | ours | xmtp-js 12.1.0 | speed-up | goal | peak RSS ours / xmtp-js |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${labels[r.name]} | ${r.o.ms} ms | ${r.j.ms} ms | **${r.ratio.toFixed(2)}×** | ≥ ${r.goal}× | ${r.o.maxRssMB} MB / ${r.j.maxRssMB} MB |`,
    ),
  ];
  table.push(
    "",
    `A restarted client with a \`conversationStore\` (a file here) starts and lists the same ${INVITES} conversations in ${warm.ms} ms, client start (keys loaded from the network) included: it restores them and reads only invitations newer than its last listing minus the overlap window.`,
  );
  for (const l of table) out(l);
  if (!process.env.BENCH_NO_DOCS) writeDocs(table);
} finally {
  node.proc.kill("SIGTERM");
  await new Promise((r) => node.proc.once("exit", r));
  rmSync(node.dataDir, { recursive: true, force: true });
}

function writeDocs(table) {
  const path = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));
  let doc = "";
  try {
    doc = readFileSync(path, "utf8");
  } catch {
    doc = "# Benchmarks\n";
  }
  const section = [
    "## Client SDK",
    "",
    `Measured by \`node bench/client.mjs\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}).`,
    "Both SDKs do the same work against the same `xmtp node` (SQLite) in the same run; each task runs in a",
    "fresh process per SDK (cold client, keys loaded from the network, not timed), interleaved, best of",
    `${ROUNDS} rounds each; peak RSS is the largest seen. Invitations come from`,
    "distinct peers (no shared secrets to cache); messages alternate between the two participants;",
    "`newConversation` goes to peers with published contacts, one after another. Speed-up = xmtp-js time / our time.",
    "",
    ...table,
    "",
    ...NOTES,
    "",
  ].join("\n");
  const re = /## Client SDK\n[\s\S]*?(?=\n## |$)/;
  doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}`;
  writeFileSync(path, doc);
}
