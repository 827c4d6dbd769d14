// Shared setup of the client benchmarks (bench/client.mjs in Node, bench/browser-client.mjs in
// Chromium): a spawned `xmtp node` (SQLite) holding invitations for listers of several sizes and a
// long V2 conversation, built with our SDK's own functions.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ApiClient,
  createInvitation,
  createPrivateKeyBundle,
  defaultCodecRegistry,
  deriveInvitationSecrets,
  encodeContent,
  encodeMessageV2,
  fromViemAccount,
  invitationEnvelopes,
  localAuthenticator,
  ownKeysFromBundleV1,
  publishContactBundles,
  sealInvitation,
  v2Envelope,
} from "../packages/client/dist/advanced.js";
import { Client } from "../packages/client/dist/index.js";

const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));

export const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** Spawns `xmtp node` (auth on, SQLite in a temp dir); resolves once /healthz answers. */
export async function startNode() {
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
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/healthz`)).ok)
        return { url, grpcUrl: `http://127.0.0.1:${grpc}`, proc, dataDir };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("node did not start");
}

export async function stopNode(node) {
  node.proc.kill("SIGTERM");
  await new Promise((r) => node.proc.once("exit", r));
  rmSync(node.dataDir, { recursive: true, force: true });
}

/** A fresh identity (keys only, or with its contact published). */
export async function newIdentity(url, { contact = false } = {}) {
  const key = generatePrivateKey();
  const bundle = await createPrivateKeyBundle(fromViemAccount(privateKeyToAccount(key)));
  if (contact) {
    const api = new ApiClient({ apiUrl: url });
    api.setAuthenticator(localAuthenticator(bundle));
    await publishContactBundles(api, bundle);
  }
  return { key, bundle, keys: ownKeysFromBundleV1(bundle) };
}

export async function inBatches(api, envs, size = 200) {
  for (let i = 0; i < envs.length; i += size) await api.publish(envs.slice(i, i + size));
}

/**
 * One lister per size, with that many invitations from distinct peers (the first n of one set of
 * peers, so no lister can reuse a secret). Returns the listers by size (key and open client) and
 * the first peer.
 */
export async function seedInvitations(url, sizes) {
  const listers = new Map();
  for (const n of [...new Set(sizes)].sort((a, b) => b - a)) {
    const key = generatePrivateKey();
    listers.set(n, {
      key,
      client: await Client.create(fromViemAccount(privateKeyToAccount(key)), { apiUrl: url }),
    });
  }
  const peers = Math.max(...listers.keys());
  const api = [...listers.values()][0].client.api;
  const base = BigInt(Date.now() - 86_400_000) * 1_000_000n;
  const envs = [];
  let first;
  for (let i = 0; i < peers; i++) {
    const peer = await newIdentity(url);
    first ??= peer;
    const createdNs = base + BigInt(i) * 1_000_000n;
    for (const [n, { client }] of listers) {
      if (i >= n) continue;
      const inv = await createInvitation(peer.keys, client.keys.signedBundle, client.address);
      const sealed = await sealInvitation(peer.keys, client.keys.signedBundle, inv, createdNs);
      envs.push(...invitationEnvelopes(sealed, createdNs, client.address, peer.keys.address));
    }
  }
  await inBatches(api, envs);
  return { listers, peer: first };
}

/** `count` V2 messages between `client` and `peer`, alternating senders; returns the topic. */
export async function seedMessages(client, peer, count) {
  const { topic, keyMaterial } = await deriveInvitationSecrets(
    peer.keys,
    client.keys.signedBundle,
    client.address,
  );
  const registry = defaultCodecRegistry();
  const base = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const envs = [];
  for (let i = 0; i < count; i++) {
    const { payload } = await encodeContent(`message number ${i}`, {}, registry);
    const createdNs = base + BigInt(i) * 1_000n;
    const own = i % 2 === 0 ? peer.keys : client.keys;
    const m = await encodeMessageV2({ own, topic, keyMaterial, payload, createdNs, shouldPush: true });
    envs.push(v2Envelope(topic, createdNs, m.bytes));
  }
  await inBatches(client.api, envs, 500);
  return topic;
}
