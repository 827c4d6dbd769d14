import { randomBytes } from "node:crypto";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { createPostgresStore } from "./postgres.js";
import { describeStoreCompliance, makeEnvelope } from "./store.compliance.js";
import { dropSchema, TEST_DATABASE_URL } from "./test-postgres.js";

describeStoreCompliance("postgres", async (opts) => {
  // One fresh schema per test, so tests and test files run in parallel without sharing rows.
  const schema = `store_test_${randomBytes(6).toString("hex")}`;
  const make = () => createPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 4, now: opts?.now });
  const opened = [make()];
  return {
    store: opened[0]!,
    reopen: () => {
      const s = make();
      opened.push(s);
      return s;
    },
    async cleanup() {
      for (const s of opened) await s.stop();
      await dropSchema(schema);
    },
  };
});

describe("postgres store: several nodes on one schema", () => {
  it("migrates once when many nodes start together, and dedupes across nodes", async () => {
    const schema = `store_test_${randomBytes(6).toString("hex")}`;
    const stores = Array.from({ length: 5 }, () =>
      createPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 3 }),
    );
    try {
      await Promise.all(stores.map((s) => s.start()));
      const t = "/xmtp/0/shared/proto";
      const envs = Array.from({ length: 200 }, (_, i) => makeEnvelope(t, BigInt(i % 50), `s${i}`));
      // Every node inserts the same rows in a different order, concurrently, in several batches.
      const results = await Promise.all(
        stores.flatMap((s, n) => {
          const mine = n % 2 === 0 ? envs : [...envs].reverse();
          return [0, 1, 2, 3].map((b) => s.insert(mine.slice(b * 50, b * 50 + 50)));
        }),
      );
      const stored = results.flatMap((r) => r.inserted).filter(Boolean).length;
      expect(stored).toBe(200);
      for (const s of stores) expect(await s.count()).toBe(200);
      const sql = postgres(TEST_DATABASE_URL, { max: 1 });
      const rows = await sql.unsafe(`SELECT version FROM "${schema}".store_migrations ORDER BY version`);
      await sql.end();
      // Each migration applied exactly once, though every node ran them.
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3]);
    } finally {
      for (const s of stores) await s.stop();
      await dropSchema(schema);
    }
  });

  it("fails start with Unavailable when the server cannot be reached", async () => {
    const store = createPostgresStore({ url: "postgres://postgres@127.0.0.1:1/test", schema: "nope" });
    const err = await store.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(XmtpError);
    expect((err as XmtpError).code).toBe(Code.Unavailable);
    expect(await store.healthy()).toBe(false);
    await store.stop();
  });

  it("rejects a schema name that is not a plain identifier", () => {
    expect(() => createPostgresStore({ url: TEST_DATABASE_URL, schema: 'x"; DROP TABLE y; --' })).toThrow(
      XmtpError,
    );
  });
});

describe("postgres store: rows and migrations", () => {
  it("stores receiver time and should_expire, and refuses a schema from a newer version", async () => {
    const schema = `store_test_${randomBytes(6).toString("hex")}`;
    const store = createPostgresStore({ url: TEST_DATABASE_URL, schema, now: () => 123_456_789n });
    const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      await store.start();
      await store.insert([makeEnvelope("/xmtp/0/keep/proto", 1n), makeEnvelope("/other/topic", 2n)]);
      await store.stop();
      const rows = await sql.unsafe(
        `SELECT content_topic, receiver_ts::text AS r, should_expire FROM "${schema}".envelopes ORDER BY content_topic`,
      );
      expect(rows.map((r) => ({ ...r }))).toEqual([
        { content_topic: "/other/topic", r: "123456789", should_expire: true },
        { content_topic: "/xmtp/0/keep/proto", r: "123456789", should_expire: false },
      ]);
      const versions = await sql.unsafe(
        `SELECT version, name FROM "${schema}".store_migrations ORDER BY version`,
      );
      expect(versions.map((r) => ({ ...r }))).toEqual([
        { version: 1, name: "envelopes" },
        { version: 2, name: "expiring index" },
        { version: 3, name: "receive order" },
      ]);
      await sql.unsafe(`INSERT INTO "${schema}".store_migrations (version, name) VALUES (99, 'future')`);
      const again = createPostgresStore({ url: TEST_DATABASE_URL, schema });
      const err = await again.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(XmtpError);
      expect((err as XmtpError).code).toBe(Code.FailedPrecondition);
      await again.stop();
    } finally {
      await store.stop();
      await sql.end();
      await dropSchema(schema);
    }
  });

  it("a schema from before the receive order is upgraded in place: existing rows first", async () => {
    const schema = `store_test_${randomBytes(6).toString("hex")}`;
    const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    const first = createPostgresStore({ url: TEST_DATABASE_URL, schema });
    const again = createPostgresStore({ url: TEST_DATABASE_URL, schema });
    try {
      await first.start();
      const old = [makeEnvelope("/xmtp/0/a/proto", 9n), makeEnvelope("/xmtp/0/b/proto", 1n)];
      for (const e of old) await first.insert([e]);
      await first.stop();
      await sql.unsafe(`DROP TABLE "${schema}".store_meta;
        ALTER TABLE "${schema}".envelopes DROP COLUMN receive_xid, DROP COLUMN receive_seq;
        DELETE FROM "${schema}".store_migrations WHERE version = 3;`);
      await again.start();
      const fresh = makeEnvelope("/xmtp/0/c/proto", 5n);
      await again.insert([fresh]);
      const page = await again.receivedSince(undefined, { limit: 10, maxBytes: 1 << 20 });
      const topics = page.envelopes.map((e) => e.contentTopic);
      expect(new Set(topics.slice(0, 2))).toEqual(new Set(old.map((e) => e.contentTopic)));
      expect(topics[2]).toBe(fresh.contentTopic);
    } finally {
      await first.stop();
      await again.stop();
      await sql.end();
      await dropSchema(schema);
    }
  });

  it("lists a row only once every transaction before it has ended", async () => {
    const schema = `store_test_${randomBytes(6).toString("hex")}`;
    const store = createPostgresStore({ url: TEST_DATABASE_URL, schema });
    const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      await store.start();
      const slow = makeEnvelope("/xmtp/0/slow/proto", 1n);
      const quick = makeEnvelope("/xmtp/0/quick/proto", 2n);
      // A transaction takes its identity value and stays open while a later one commits.
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let inserted!: () => void;
      const insertedP = new Promise<void>((r) => {
        inserted = r;
      });
      const open = sql.begin(async (tx) => {
        await tx.unsafe(
          `INSERT INTO "${schema}".envelopes (sender_ts, digest, content_topic, message, receiver_ts, should_expire)
           VALUES ($1, $2, $3, $4, 0, false)`,
          [
            (slow.timestampNs - (1n << 63n)).toString(),
            Buffer.from(slow.digest),
            slow.contentTopic,
            Buffer.from(slow.message),
          ],
        );
        inserted();
        await held;
      });
      await insertedP;
      await store.insert([quick]);
      const during = await store.receivedSince(undefined, { limit: 10, maxBytes: 1 << 20 });
      expect(during.envelopes).toEqual([]);
      release();
      await open;
      const after = await store.receivedSince(during.position, { limit: 10, maxBytes: 1 << 20 });
      expect(after.envelopes.map((e) => e.contentTopic)).toEqual([slow.contentTopic, quick.contentTopic]);
    } finally {
      await store.stop();
      await sql.end();
      await dropSchema(schema);
    }
  });
});
