/**
 * PostgreSQL deployments, on the test server at 127.0.0.1:5432 (unreachable = failing, never
 * skipped): two nodes sharing one database and still relaying; a PostgreSQL-backed node killed
 * with SIGKILL under publish load keeps every acknowledged envelope.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { alice } from "../packages/node/src/api/test-support.js";
import { dropSchema, TEST_DATABASE_URL } from "../packages/node/src/store/test-postgres.js";
import {
  bytes,
  type NetNode,
  nowNs,
  publish,
  queryAll,
  removeTempDirs,
  requirePostgres,
  restartNetNode,
  startNetNode,
  subscribe,
  text,
  topic,
  waitFor,
  waitMesh,
} from "./network-support.js";
import { startPublishLoad } from "./node-crash-support.js";

const schemas: string[] = [];
const nodes: NetNode[] = [];
const newSchema = () => {
  const s = `net_${process.pid}_${Date.now()}_${schemas.length}`;
  schemas.push(s);
  return s;
};

beforeAll(requirePostgres);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  for (const s of schemas) await dropSchema(s);
  removeTempDirs();
});

describe("two nodes sharing one PostgreSQL", () => {
  test("each node relays, and subscribers on both receive every envelope once", async () => {
    const db = { url: TEST_DATABASE_URL, schema: newSchema() };
    const a = await startNetNode({ name: "A", db });
    nodes.push(a);
    const b = await startNetNode({ name: "B", db, peers: [a] });
    nodes.push(b);
    await waitMesh([
      [a, 1],
      [b, 1],
    ]);
    const t = topic(`shared-${Date.now()}`);
    const [subA, subB] = await Promise.all([subscribe(a, [t]), subscribe(b, [t])]);
    const auth = alice.bearer(nowNs());
    const base = nowNs();
    const fromA = Array.from({ length: 10 }, (_, i) => ({
      contentTopic: t,
      timestampNs: base + BigInt(i),
      message: bytes(`A${i}`),
    }));
    const fromB = Array.from({ length: 10 }, (_, i) => ({
      contentTopic: t,
      timestampNs: base + 100n + BigInt(i),
      message: bytes(`B${i}`),
    }));
    for (let i = 0; i < 10; i++) {
      await publish(a, [fromA[i] as (typeof fromA)[0]], auth);
      await publish(b, [fromB[i] as (typeof fromB)[0]], auth);
    }
    const want = [...fromA, ...fromB].map((e) => text(e.message)).sort();
    for (const sub of [subA, subB]) {
      await waitFor("20 deliveries", () => sub.received.length >= 20);
    }
    // A sentinel proves nothing else (no second copy) is still on its way.
    const sentinel = { contentTopic: t, timestampNs: base + 1000n, message: bytes("sentinel") };
    await publish(a, [sentinel], auth);
    for (const sub of [subA, subB]) {
      await waitFor("sentinel", () => sub.received.some((e) => text(e.message) === "sentinel"));
      expect(
        sub.received
          .map((e) => text(e.message))
          .filter((m) => m !== "sentinel")
          .sort(),
      ).toEqual(want);
    }
    // One shared table: both nodes answer the same 21 rows.
    expect((await queryAll(a, t)).length).toBe(21);
    expect((await queryAll(b, t)).length).toBe(21);
    subA.close();
    subB.close();
  }, 90_000);
});

describe("nodes each with their own PostgreSQL", () => {
  test("joined by relay, and a restarted node catches up over Waku store", async () => {
    const a = await startNetNode({ name: "A", db: { url: TEST_DATABASE_URL, schema: newSchema() } });
    nodes.push(a);
    let b = await startNetNode({
      name: "B",
      db: { url: TEST_DATABASE_URL, schema: newSchema() },
      peers: [a],
    });
    nodes.push(b);
    await waitMesh([
      [a, 1],
      [b, 1],
    ]);
    const t = topic(`own-${Date.now()}`);
    const auth = alice.bearer(nowNs());
    await publish(a, [{ contentTopic: t, timestampNs: nowNs(), message: bytes("live") }], auth);
    await waitFor("relayed to B", async () => (await queryAll(b, t)).length === 1);
    await b.stop();
    const base = nowNs();
    const offline = Array.from({ length: 250 }, (_, i) => ({
      contentTopic: t,
      timestampNs: base + BigInt(i),
      message: bytes(`off${i}`),
    }));
    for (let i = 0; i < offline.length; i += 50) await publish(a, offline.slice(i, i + 50), auth);
    b = await restartNetNode(b);
    nodes[nodes.length - 1] = b;
    await waitFor("caught up", async () => (await queryAll(b, t)).length === 251, 30_000);
  }, 90_000);
});

describe("SIGKILL under publish load", () => {
  test("every acknowledged envelope is stored after a restart", async () => {
    const db = { url: TEST_DATABASE_URL, schema: newSchema() };
    let n = await startNetNode({ name: "P", db });
    nodes.push(n);
    const t = topic(`kill-${Date.now()}`);
    const load = startPublishLoad({ target: () => n, topic: t });
    await waitFor("some acknowledged load", () => load.acked.length >= 500, 30_000);
    n.proc.kill("SIGKILL");
    expect(await n.exited).toBe("SIGKILL");
    await load.stop();
    const ackedNow = [...load.acked];

    n = await restartNetNode(n);
    nodes[nodes.length - 1] = n;
    const stored = new Set((await queryAll(n, t)).map((e) => text(e.message)));
    const missing = ackedNow.filter((m) => !stored.has(m));
    expect(missing).toEqual([]);
    expect(ackedNow.length).toBeGreaterThanOrEqual(500);
  }, 120_000);
});
