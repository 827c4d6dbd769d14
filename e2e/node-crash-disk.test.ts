/**
 * A full disk under a node on SQLite, for real: the data dir is a small tmpfs mounted for the test
 * (the test runs as root; without the right to mount it fails, it is never skipped). Publishes get
 * "disk full" (not "busy"), /healthz says so, nothing stored is lost or damaged, and once the file
 * system grows the node serves again without a restart.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, expect, test } from "vitest";
import { alice } from "../packages/node/src/api/test-support.js";
import {
  type NetNode,
  nowNs,
  queryAll,
  removeTempDirs,
  startNetNode,
  tempDir,
  text,
  topic,
  waitFor,
} from "./network-support.js";

const mountPoint = tempDir("xmtp-disk-full-");
let mounted = false;
let node: NetNode | undefined;

afterAll(async () => {
  await node?.stop();
  if (mounted) execFileSync("umount", [mountPoint]);
  removeTempDirs();
});

/** POST /message/v1/publish answering status and message (not throwing). */
async function tryPublish(n: NetNode, name: string, i: number, size: number) {
  const r = await fetch(`${n.url}/message/v1/publish`, {
    method: "POST",
    headers: { authorization: alice.bearer(nowNs()) },
    body: JSON.stringify({
      envelopes: [
        {
          contentTopic: name,
          timestampNs: (nowNs() + BigInt(i)).toString(),
          message: Buffer.concat([Buffer.from(`${i} `), Buffer.alloc(size, i % 251)]).toString("base64"),
        },
      ],
    }),
  });
  return { status: r.status, body: (await r.json()) as { message?: string } };
}

test("a full disk: clear errors and health, nothing lost or damaged, service back when space returns", async () => {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
  mounted = true;
  const dataDir = join(mountPoint, "data");
  mkdirSync(dataDir);
  node = await startNetNode({ name: "F", dataDir });
  const n = node;
  const t = topic(`full-${Date.now()}`);

  // Fill the disk with 32 KiB envelopes until the store refuses one.
  const acked: string[] = [];
  let refusal: { status: number; body: { message?: string } } | undefined;
  for (let i = 0; i < 1000 && refusal === undefined; i++) {
    const r = await tryPublish(n, t, i, 32 * 1024);
    if (r.status === 200) acked.push(String(i));
    else refusal = r;
  }
  expect(refusal?.status).toBe(503);
  expect(refusal?.body.message).toMatch(/^disk full: the store cannot write/);
  expect(acked.length).toBeGreaterThan(10);

  const health = await fetch(`${n.url}/healthz`);
  expect(health.status).toBe(503);
  expect(((await health.json()) as { message: string }).message).toMatch(/^not serving: disk full/);
  // Reads go on while writes are refused.
  const before = (await queryAll(n, t)).map((e) => text(e.message).split(" ")[0]);
  expect(before).toEqual(acked);

  // Space returns: the node serves again by itself.
  execFileSync("mount", ["-o", "remount,size=64m", mountPoint]);
  await waitFor("healthy again", async () => (await fetch(`${n.url}/healthz`)).status === 200);
  const after = await tryPublish(n, t, 5000, 32 * 1024);
  expect(after.status).toBe(200);
  acked.push("5000");

  const stored = (await queryAll(n, t)).map((e) => text(e.message).split(" ")[0]);
  expect(stored).toEqual(acked);
  expect(await n.stop()).toBe(0);
  const db = new Database(join(dataDir, "xmtp.sqlite3"), { readonly: true });
  try {
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
  } finally {
    db.close();
  }
  console.info(
    `disk full (tmpfs 4 MiB → 64 MiB): ${acked.length} acknowledged envelopes, 0 lost, integrity ok`,
  );
}, 120_000);
