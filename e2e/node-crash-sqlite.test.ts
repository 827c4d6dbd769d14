/**
 * Crash consistency of a node on SQLite, with real node processes: SIGKILL under authenticated
 * publish load, round after round, loses no acknowledged envelope and leaves an intact database;
 * a second node on the same data dir refuses to start; a damaged database file is reported by
 * /healthz in words an operator can act on.
 */
import { openSync, readSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, test } from "vitest";
import { alice } from "../packages/node/src/api/test-support.js";
import {
  bytes,
  type NetNode,
  nowNs,
  publish,
  queryAll,
  removeTempDirs,
  restartNetNode,
  startNetNode,
  text,
  topic,
  waitFor,
} from "./network-support.js";
import { startPublishLoad } from "./node-crash-support.js";
import { spawnNode } from "./node-process.js";

const ROUNDS = 6;
const nodes: NetNode[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  removeTempDirs();
});

const dbFile = (n: NetNode) => join(n.dataDir, "xmtp.sqlite3");

function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma("integrity_check", { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe("SIGKILL under publish load (SQLite)", () => {
  test(`${ROUNDS} rounds: every acknowledged envelope is stored, and the database stays intact`, async () => {
    let n = await startNetNode({ name: "K" });
    nodes.push(n);
    const t = topic(`sqlite-kill-${Date.now()}`);
    const acked: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const load = startPublishLoad({ target: () => n, topic: t, prefix: `r${round}-` });
      await waitFor("acknowledged load", () => load.acked.length >= 300, 30_000);
      n.proc.kill("SIGKILL");
      expect(await n.exited).toBe("SIGKILL");
      await load.stop();
      acked.push(...load.acked);
      // The killed node's lock file is left behind: the restart takes it over.
      n = await restartNetNode(n);
      nodes[0] = n;
      const stored = new Set((await queryAll(n, t)).map((e) => text(e.message)));
      expect(acked.filter((m) => !stored.has(m))).toEqual([]);
    }
    expect(await n.stop()).toBe(0);
    expect(integrity(dbFile(n))).toBe("ok");
    console.info(`SIGKILL (SQLite): ${ROUNDS} rounds, ${acked.length} acknowledged envelopes, 0 lost`);
  }, 300_000);
});

describe("one node per data dir", () => {
  test("a second node on the same data dir refuses to start, naming the first", async () => {
    const a = await startNetNode({ name: "first" });
    nodes.push(a);
    const second = await spawnNode({ dataDir: a.dataDir, waitReady: false });
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`is in use by another node (pid ${a.proc.pid})`);
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
  }, 60_000);
});

describe("a damaged database file", () => {
  test("is reported unhealthy by /healthz with a clear message", async () => {
    let n = await startNetNode({ name: "D" });
    nodes.push(n);
    const t = topic(`damaged-${Date.now()}`);
    const payload = "x".repeat(1000);
    for (let i = 0; i < 40; i++) {
      const batch = Array.from({ length: 50 }, (_, j) => ({
        contentTopic: t,
        timestampNs: nowNs() + BigInt(i * 50 + j),
        message: bytes(`${i * 50 + j} ${payload}`),
      }));
      await publish(n, batch, alice.bearer(nowNs()));
    }
    expect(await n.stop()).toBe(0);

    // Garbage over every page after the first 16 (the schema's pages stay readable).
    const file = dbFile(n);
    const pageSize = (() => {
      const header = Buffer.alloc(18);
      const fd = openSync(file, "r");
      readSync(fd, header, 0, 18, 0);
      return header.readUInt16BE(16);
    })();
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(64 * pageSize);
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.alloc(size - 16 * pageSize, 0xa5), 0, size - 16 * pageSize, 16 * pageSize);

    // Not waiting for a healthy node: it starts, and must say it is not serving.
    const damaged = await spawnNode({
      args: n.args,
      dataDir: n.dataDir,
      httpPort: n.httpPort,
      grpcPort: n.grpcPort,
      waitReady: false,
    });
    n = { ...n, ...damaged };
    nodes[nodes.length - 1] = n;
    await waitFor("/healthz answers", async () => (await fetch(`${n.url}/healthz`)).status > 0);
    // Reading the damaged pages (a query, or the health probe itself) marks the store damaged.
    await queryAll(n, t).catch(() => undefined);
    const r = await fetch(`${n.url}/healthz`);
    expect(r.status).toBe(503);
    const body = (await r.json()) as { code: number; message: string };
    expect(body.code).toBe(14);
    expect(body.message).toMatch(
      /not serving: the database file is damaged \(.+\): stop the node and recover it/,
    );
    // Publishing says the same, not "busy".
    const p = await fetch(`${n.url}/message/v1/publish`, {
      method: "POST",
      headers: { authorization: alice.bearer(nowNs()) },
      body: JSON.stringify({
        envelopes: [{ contentTopic: t, timestampNs: nowNs().toString(), message: "AA==" }],
      }),
    });
    expect(p.status).toBe(503);
    expect(((await p.json()) as { message: string }).message).toContain("damaged");
  }, 120_000);
});
