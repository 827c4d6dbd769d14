/**
 * The worker-thread crypto pool runs only from built code (it needs dist/conversations/crypto-worker.js),
 * so this test drives the built modules: the pool must give the same results and the same typed
 * rejections as the calling thread. Run `npx tsc -b packages/cli packages/client` first.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, describe, expect, test } from "vitest";
import { EnvelopeSchema } from "../packages/proto/src/index.js";

const dist = "../packages/client/dist";
const { cryptoPool, cryptoPoolFor, POOL_MIN_ITEMS, POOL_START_ITEMS } = await import(
  `${dist}/conversations/worker-pool.js`
);
const { createInvitation, sealInvitation, invitationEnvelopes, openInvitation } = await import(
  `${dist}/conversations/invitation.js`
);
const { encodeMessageV2, decodeMessageV2, v2Envelope } = await import(`${dist}/conversations/v2.js`);
const { deriveInvitationSecrets } = await import(`${dist}/conversations/invitation.js`);
const { randomKeys } = await import("../packages/client/src/conversations/test-fixtures.js");

// A pool of two even where the default gives none (2 cores: one per core but one).
process.env.XMTP_CRYPTO_WORKERS ??= "2";
const pool = cryptoPool();
afterAll(async () => {
  await pool?.close();
});

describe("crypto pool (built code)", () => {
  test("is handed work only once every worker has libsecp256k1, and only for large batches", async () => {
    expect(pool).toBeDefined();
    await pool.whenReady();
    expect(pool.backends).toEqual(Array(pool.size).fill("libsecp256k1-wasm"));
    expect(cryptoPoolFor(POOL_MIN_ITEMS, 0)).toBe(pool);
    expect(cryptoPoolFor(POOL_MIN_ITEMS - 1, POOL_START_ITEMS)).toBeUndefined();
  });

  test("only an operation past POOL_START_ITEMS starts it; work stays here until it is ready", () => {
    const script = `
      const m = await import(${JSON.stringify(new URL(`${dist}/conversations/worker-pool.js`, import.meta.url).href)});
      const out = [m.cryptoPoolFor(100, m.POOL_START_ITEMS - 1) === undefined];
      const keep = setInterval(() => {}, 1000);
      out.push(m.cryptoPoolFor(100, m.POOL_START_ITEMS) === undefined); // starting, not ready
      await m.cryptoPool().whenReady();
      out.push(m.cryptoPoolFor(100, 100) === m.cryptoPool());
      clearInterval(keep);
      console.log(JSON.stringify(out));`;
    expect(runModule(script)).toBe("[true,true,true]\n");
  });

  test("opens invitations and decodes V2 messages like the calling thread, with typed errors", async () => {
    expect(pool).toBeDefined();
    const alice = randomKeys();
    const peers = Array.from({ length: 12 }, () => randomKeys());
    const envs = [];
    for (const [i, p] of peers.entries()) {
      const inv = await createInvitation(p, alice.signedBundle, alice.address);
      const sealed = await sealInvitation(p, alice.signedBundle, inv, BigInt(i + 1));
      envs.push(invitationEnvelopes(sealed, BigInt(i + 1), alice.address, p.address)[0]);
    }
    envs.push(
      create(EnvelopeSchema, {
        contentTopic: envs[0].contentTopic,
        timestampNs: 99n,
        message: envs[0].message,
      }),
    );
    const pooled = await pool.openInvitations(alice, envs);
    for (let i = 0; i < peers.length; i++) {
      const local = await openInvitation(alice, envs[i]);
      expect(pooled[i].topic).toBe(local.topic);
      expect(pooled[i].keyMaterial).toEqual(local.keyMaterial);
      expect(pooled[i].peerAddress).toBe(peers[i]!.address);
    }
    expect(pooled[peers.length]).toMatchObject({ name: "InvitationError", reason: "timestamp-mismatch" });

    const bob = peers[0]!;
    const { topic, keyMaterial } = await deriveInvitationSecrets(bob, alice.signedBundle, alice.address);
    const inputs = [];
    for (let i = 0; i < 40; i++) {
      const own = i % 2 ? alice : bob;
      const m = await encodeMessageV2({
        own,
        topic,
        keyMaterial,
        payload: new Uint8Array([i]),
        createdNs: BigInt(i + 1),
      });
      inputs.push({
        envelope: v2Envelope(topic, BigInt(i + 1), m.bytes),
        topic,
        keyMaterial,
        participants: [alice.address, bob.address],
      });
    }
    const outsider = await encodeMessageV2({
      own: peers[1]!,
      topic,
      keyMaterial,
      payload: new Uint8Array([7]),
      createdNs: 77n,
    });
    inputs.push({
      envelope: v2Envelope(topic, 77n, outsider.bytes),
      topic,
      keyMaterial,
      participants: [alice.address, bob.address],
    });
    const decoded = await pool.decodeV2(inputs);
    for (let i = 0; i < 40; i++) {
      const local = await decodeMessageV2(inputs[i]);
      expect(decoded[i].id).toBe(local.id);
      expect(decoded[i].senderAddress).toBe(local.senderAddress);
      expect(decoded[i].payload).toEqual(local.payload);
    }
    expect(decoded[40]).toMatchObject({ name: "MessageDecodeError", reason: "sender-not-participant" });
  });

  test("an idle pool never keeps the process alive", () => {
    const script = `
      const { cryptoPool } = await import(${JSON.stringify(new URL(`${dist}/conversations/worker-pool.js`, import.meta.url).href)});
      // A pool of two even where the default gives none (2 cores: one per core but one).
process.env.XMTP_CRYPTO_WORKERS ??= "2";
const pool = cryptoPool();
      if (!pool) throw new Error("no pool");
      // Let the workers come online (their ports start) before the script ends.
      await new Promise((r) => setTimeout(r, 500));
      console.log("done");`;
    expect(runModule(script)).toBe("done\n");
  });
});

/** Runs `script` as a module in a fresh Node with a pool of two workers; returns its stdout. */
function runModule(script: string): string {
  // A module file, not `-e`: an evaluated script exits even with handles left open.
  const dir = mkdtempSync(join(tmpdir(), "xmtp-pool-"));
  try {
    const file = join(dir, "pool.mjs");
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, XMTP_CRYPTO_WORKERS: "2" },
    });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("curve workers (built code)", () => {
  test("a batch whose curve work they share opens like one opened here, errors and repeated bundles included", async () => {
    const { curvePool, runCurveJobs } = await import(`${dist}/conversations/curve-pool.js`);
    const { openInvitations } = await import(`${dist}/conversations/invitation.js`);
    const { secp256k1Backend } = await import("../packages/protocol/dist/index.js");
    process.env.XMTP_CURVE_WORKERS ??= "1";
    const cp = curvePool();
    expect(cp).toBeDefined();
    try {
      await cp.whenStarted();
      expect(cp.readyWorkers().length).toBe(cp.size);
      const alice = randomKeys();
      const peers = Array.from({ length: 10 }, () => randomKeys());
      const envs = [];
      // 40 invitations from 10 peers: each peer's bundle is met four times.
      for (let i = 0; i < 40; i++) {
        const p = peers[i % peers.length]!;
        const inv = await createInvitation(p, alice.signedBundle, alice.address, { conversationId: `c${i}` });
        const sealed = await sealInvitation(p, alice.signedBundle, inv, BigInt(i + 1));
        envs.push(invitationEnvelopes(sealed, BigInt(i + 1), alice.address, p.address)[0]);
      }
      envs.push(
        create(EnvelopeSchema, {
          contentTopic: envs[0].contentTopic,
          timestampNs: 99n,
          message: envs[0].message,
        }),
      );
      // Every job in the worker, and shared with this thread (results must not depend on who ran them).
      const inWorker = await openInvitations(alice, envs, undefined, (jobs) =>
        cp.readyWorkers()[0].run(jobs),
      );
      const pooled = await openInvitations(alice, envs, undefined, (jobs, local) =>
        runCurveJobs(jobs, local, cp.readyWorkers()),
      );
      const outcome = (r) => (r.name === "InvitationError" ? r.reason : `${r.topic}:${r.peerAddress}`);
      expect(inWorker.map(outcome)).toEqual(pooled.map(outcome));
      const local = await openInvitations(alice, envs);
      for (let i = 0; i < 40; i++) {
        expect(pooled[i].topic).toBe(local[i].topic);
        expect(pooled[i].keyMaterial).toEqual(local[i].keyMaterial);
        expect(pooled[i].peerAddress).toBe(peers[i % peers.length]!.address);
      }
      expect(pooled[40]).toMatchObject({ name: "InvitationError", reason: "timestamp-mismatch" });
      expect(secp256k1Backend().name).toBe("libsecp256k1-wasm");
    } finally {
      await cp?.close();
    }
  });

  test("messages whose signature checks they share decode like messages decoded here", async () => {
    const { curvePool, runCurveJobs } = await import(`${dist}/conversations/curve-pool.js`);
    const { decodeMessagesV2 } = await import(`${dist}/conversations/v2.js`);
    process.env.XMTP_CURVE_WORKERS ??= "1";
    const cp = curvePool();
    expect(cp).toBeDefined();
    try {
      await cp.whenStarted();
      const alice = randomKeys();
      const bob = randomKeys();
      const mallory = randomKeys();
      const { topic, keyMaterial } = await deriveInvitationSecrets(bob, alice.signedBundle, alice.address);
      const inputs = [];
      for (let i = 0; i < 120; i++) {
        const own = i === 60 ? mallory : i % 2 ? alice : bob;
        const m = await encodeMessageV2({
          own,
          topic,
          keyMaterial,
          payload: new Uint8Array([i]),
          createdNs: BigInt(i + 1),
        });
        inputs.push({
          envelope: v2Envelope(topic, BigInt(i + 1), m.bytes),
          topic,
          keyMaterial,
          participants: [alice.address, bob.address],
        });
      }
      const inWorker = await decodeMessagesV2(inputs, new Map(), (jobs) => cp.readyWorkers()[0].run(jobs));
      const pooled = await decodeMessagesV2(inputs, new Map(), (jobs, local) =>
        runCurveJobs(jobs, local, cp.readyWorkers()),
      );
      const local = await decodeMessagesV2(inputs, new Map());
      const outcome = (r) => (r.name === "MessageDecodeError" ? r.reason : `${r.id}:${r.senderAddress}`);
      expect(pooled.map(outcome)).toEqual(local.map(outcome));
      expect(inWorker.map(outcome)).toEqual(local.map(outcome));
      expect(pooled[60]).toMatchObject({ name: "MessageDecodeError", reason: "sender-not-participant" });
      expect(pooled.filter((r) => r.name !== "MessageDecodeError")).toHaveLength(119);
    } finally {
      await cp?.close();
    }
  });

  test("a pool that has worked and is idle never keeps the process alive", () => {
    const script = `
      const { curvePool, runCurveJobs } = await import(${JSON.stringify(new URL(`${dist}/conversations/curve-pool.js`, import.meta.url).href)});
      const { secp256k1Backend, initSecp256k1, getPublicKey } = await import(${JSON.stringify(new URL("../packages/protocol/dist/index.js", import.meta.url).href)});
      await initSecp256k1();
      const pool = curvePool();
      if (!pool) throw new Error("no pool");
      // An idle pool holds nothing open, so the wait for its start is held open here.
      const keep = setInterval(() => {}, 1000);
      await pool.whenStarted();
      clearInterval(keep);
      const k = new Uint8Array(32).fill(7);
      const jobs = Array.from({ length: 40 }, () => ({ ecdh: [[k, getPublicKey(k)]], verify: [] }));
      const r = await runCurveJobs(jobs, secp256k1Backend(), pool.readyWorkers());
      console.log(r.length, r.every((x) => x.dh && x.dh[0].length === 65));`;
    expect(runModule(script)).toBe("40 true\n");
  });
});
