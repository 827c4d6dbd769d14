/**
 * History sync whatever the clients' clocks (docs/sync.md), with real node processes: envelopes
 * stamped hours in the past and in the future are published while nodes are down or not yet
 * started, nodes come back and join in different orders, one of them on PostgreSQL; every node
 * ends up with every envelope.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { alice } from "../packages/node/src/api/test-support.js";
import { dropSchema, TEST_DATABASE_URL } from "../packages/node/src/store/test-postgres.js";
import {
  bytes,
  type NetNode,
  nowNs,
  publish,
  queryAll,
  type RawEnvelope,
  removeTempDirs,
  requirePostgres,
  restartNetNode,
  startNetNode,
  text,
  topic,
  waitFor,
  waitMesh,
} from "./network-support.js";

const HOUR_NS = 3_600_000_000_000n;
const nodes: NetNode[] = [];
const schema = `skew_${process.pid}_${Date.now()}`;

beforeAll(requirePostgres);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await dropSchema(schema);
  removeTempDirs();
});

/** `n` envelopes on one topic stamped by clients hours behind, hours ahead, and at the epoch. */
function skewed(name: string, n: number): RawEnvelope[] {
  const now = nowNs();
  const offsets = [-6n * HOUR_NS, -90_000_000_000n, 3n * HOUR_NS, 20n * HOUR_NS];
  return Array.from({ length: n }, (_, i) => ({
    contentTopic: topic(name),
    timestampNs: i % 5 === 4 ? BigInt(i + 1) : now + (offsets[i % 4] as bigint) + BigInt(i),
    message: bytes(`${name} ${i}`),
  }));
}

const texts = (envs: RawEnvelope[]) => envs.map((e) => text(e.message)).sort();

async function publishAll(n: NetNode, envs: RawEnvelope[]) {
  for (let i = 0; i < envs.length; i += 20) await publish(n, envs.slice(i, i + 20), alice.bearer(nowNs()));
}

test("nodes that were down or joined late catch up every envelope whatever its timestamp", async () => {
  const a = await startNetNode({ name: "A" });
  nodes.push(a);
  let b = await startNetNode({ name: "B", peers: [a], db: { url: TEST_DATABASE_URL, schema } });
  nodes.push(b);
  await waitMesh([
    [a, 1],
    [b, 1],
  ]);

  // B (PostgreSQL) is down while A receives envelopes stamped hours off both ways.
  expect(await b.stop()).toBe(0);
  const first = skewed(`skew-first-${Date.now()}`, 60);
  await publishAll(a, first);
  b = await restartNetNode(b);
  nodes[1] = b;
  const firstTopic = first[0]!.contentTopic;
  await waitFor(
    "B caught up the first batch",
    async () => (await queryAll(b, firstTopic)).length === 60,
    60_000,
  );

  // A is down while B receives more; then C joins through B alone and A comes back.
  expect(await a.stop()).toBe(0);
  const second = skewed(`skew-second-${Date.now()}`, 60);
  await publishAll(b, second);
  const c = await startNetNode({ name: "C", peers: [b] });
  nodes.push(c);
  const a2 = await restartNetNode(a);
  nodes[0] = a2;
  // D joins last, through C only: what C synced from B is what D gets.
  const d = await startNetNode({ name: "D", peers: [c] });
  nodes.push(d);

  const secondTopic = second[0]!.contentTopic;
  for (const n of [a2, b, c, d]) {
    await waitFor(
      `${n.name} holds both batches`,
      async () =>
        (await queryAll(n, firstTopic)).length === 60 && (await queryAll(n, secondTopic)).length === 60,
      60_000,
    );
    expect(texts(await queryAll(n, firstTopic))).toEqual(texts(first));
    expect(texts(await queryAll(n, secondTopic))).toEqual(texts(second));
  }

  // An envelope stamped hours ago that reaches B only now still reaches every other node.
  const late = [{ contentTopic: firstTopic, timestampNs: nowNs() - 9n * HOUR_NS, message: bytes("late") }];
  await publish(b, late, alice.bearer(nowNs()));
  for (const n of [a2, c, d]) {
    // By gossip, or at the latest by the next periodic sync pass (30 s).
    await waitFor(
      `${n.name} got the late envelope`,
      async () => (await queryAll(n, firstTopic)).length === 61,
      60_000,
    );
  }
}, 240_000);
