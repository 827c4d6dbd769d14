// Store benchmarks: our SQLite and PostgreSQL stores against the same SQL run directly on the
// same driver, measured in the same run. Prints ratios (store time / baseline time; below 1 means
// the store is faster) and rewrites the "Store" section of docs/benchmarks.md.
//
//   npx tsc -b packages/cli packages/client && node bench/store.mjs
//
// Env: BENCH_ROWS (store size for the paging benchmarks, default 1000000), BENCH_PG_URL
// (default postgres://postgres@127.0.0.1:5432/test), BENCH_SKIP_PG=1, BENCH_NO_DOCS=1.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import postgres from "postgres";
import { createPostgresStore } from "../packages/node/dist/store/postgres.js";
import { createSqliteStore } from "../packages/node/dist/store/sqlite.js";
import { envelopeDigest } from "../packages/protocol/dist/index.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const PG_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SIGN = 1n << 63n;
const HOT = "/xmtp/0/m-hot/proto";
const topicOf = (i) => `/xmtp/0/m-${i}/proto`;
const COLD = (i) => `/xmtp/0/m-cold-${i}/proto`;
const MULTI = [
  ["50 small topics", Array.from({ length: 50 }, (_, i) => topicOf(i * 7 + 1))],
  ["hot topic + 49 small topics", [HOT, ...Array.from({ length: 49 }, (_, i) => topicOf(i * 7 + 1))]],
  ["50 cold topics (old history only)", Array.from({ length: 50 }, (_, i) => COLD(i))],
];
const lines = [];
const out = (s) => {
  console.log(s);
  lines.push(s);
};

/** Envelopes with 256-byte payloads; `topic(i)` picks the topic, timestamps increase. */
function makeEnvelopes(n, topic, base = 1_700_000_000_000_000_000n) {
  const payload = randomBytes(256 * n);
  return Array.from({ length: n }, (_, i) => {
    const contentTopic = topic(i);
    const message = payload.subarray(i * 256, i * 256 + 256);
    return {
      contentTopic,
      timestampNs: base + BigInt(i) * 1000n,
      message,
      digest: envelopeDigest(contentTopic, message),
    };
  });
}

/**
 * Times `store` against `base`: both warmed up, then 5 alternating rounds of `reps` runs each, so
 * drift on a busy machine hits both sides alike. Returns the median ms per run of each.
 */
async function pair(store, base, reps) {
  await store();
  await base();
  const a = [];
  const b = [];
  for (let r = 0; r < 5; r++) {
    for (const [fn, acc] of [
      [store, a],
      [base, b],
    ]) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) await fn();
      acc.push(Number(process.hrtime.bigint() - t0) / 1e6 / reps);
    }
  }
  const median = (xs) => xs.sort((x, y) => x - y)[2];
  return [median(a), median(b)];
}

/**
 * Inserts `envs` in batches through `storeBatch` and `baseBatch` alternately, a quarter at a time
 * each, so both sides see the same table growth and machine drift. Returns ms per envelope.
 */
async function alternateInserts(envs, batch, storeBatch, baseBatch) {
  const quarter = Math.ceil(envs.length / 4);
  let s = 0;
  let b = 0;
  for (let q = 0; q < 4; q++) {
    const part = envs.slice(q * quarter, (q + 1) * quarter);
    s += await once(async () => {
      for (let i = 0; i < part.length; i += batch) await storeBatch(part.slice(i, i + batch));
    });
    b += await once(async () => {
      for (let i = 0; i < part.length; i += batch) await baseBatch(part.slice(i, i + batch));
    });
  }
  return [s / envs.length, b / envs.length];
}

/** A workload to time: `reps` calls of `fn` per round. */
const T = (fn, reps) => ({ fn, reps });

/** Times a one-shot workload (no warm-up repeat possible, e.g. inserts of fresh rows). */
async function once(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
const row = (name, store, base, unit = "ms") =>
  out(`| ${name} | ${fmt(store)} ${unit} | ${fmt(base)} ${unit} | ${(store / base).toFixed(2)} |`);
async function cmp(name, store, base) {
  const [s, b] = await pair(store.fn, base.fn, store.reps);
  row(name, s, b);
}

const rawInsertSql = `INSERT INTO envelopes (sender_ts, digest, content_topic, message, receiver_ts, should_expire)
  VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sender_ts, digest) DO NOTHING`;

/** A raw better-sqlite3 handle on a file our store created (same schema, same pragmas). */
function rawSqlite(path, synchronous = "FULL") {
  const db = new Database(path);
  db.defaultSafeIntegers(true);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${synchronous}`);
  return db;
}

async function freshSqlite(dir, name, opts = {}) {
  const path = join(dir, `${name}.db`);
  const store = createSqliteStore({ path, ...opts });
  await store.start();
  return { path, store };
}

async function sqliteInsert(dir) {
  out("\n### SQLite inserts (WAL, synchronous=FULL; 256-byte payloads)\n");
  out("| workload | store | raw better-sqlite3 | ratio |");
  out("|---|---|---|---|");
  for (const [n, batch] of [
    [20_000, 100],
    [2_000, 1],
  ]) {
    const envs = makeEnvelopes(n, (i) => topicOf(i % 100));
    const { store } = await freshSqlite(dir, `ins-store-${batch}`);
    const { path, store: empty } = await freshSqlite(dir, `ins-raw-${batch}`);
    await empty.stop();
    const db = rawSqlite(path);
    const ins = db.prepare(rawInsertSql);
    const tx = db.transaction((rows) => {
      const now = BigInt(Date.now()) * 1_000_000n;
      for (const e of rows) ins.run(e.timestampNs - SIGN, e.digest, e.contentTopic, e.message, now, 0);
    });
    const [s, r] = await alternateInserts(envs, batch, (rows) => store.insert(rows), tx);
    await store.stop();
    db.close();
    row(`${n} envelopes, sequential batches of ${batch} (per envelope)`, s, r);
  }

  // Group commit: many concurrent single-envelope inserts, as concurrent Publish calls make.
  const n = 4_000;
  const conc = 64;
  const envs = makeEnvelopes(n, (i) => topicOf(i % 100));
  const concurrent = async (store) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: conc }, async () => {
        while (next < n) {
          const i = next++;
          await store.insert([envs[i]]);
        }
      }),
    );
  };
  const { store: grouped } = await freshSqlite(dir, "gc-on");
  const g = await once(() => concurrent(grouped));
  await grouped.stop();
  const { store: single } = await freshSqlite(dir, "gc-off", { groupCommit: false });
  const o = await once(() => concurrent(single));
  await single.stop();
  const { path, store: empty } = await freshSqlite(dir, "gc-raw");
  await empty.stop();
  const db = rawSqlite(path);
  const ins = db.prepare(rawInsertSql);
  const tx = db.transaction((e) => ins.run(e.timestampNs - SIGN, e.digest, e.contentTopic, e.message, 0n, 0));
  const r = await once(async () => {
    for (const e of envs) tx(e);
  });
  db.close();
  row(`${n} single-envelope inserts, ${conc} concurrent, group commit (per envelope)`, g / n, r / n);
  row(`same, group commit off (per envelope)`, o / n, r / n);
  const { store: normal } = await freshSqlite(dir, "gc-normal", { synchronous: "normal" });
  const nn = await once(() => concurrent(normal));
  await normal.stop();
  row(`same, group commit, synchronous=NORMAL (per envelope)`, nn / n, r / n);
}

/** Fills a store with ROWS envelopes: 20% on one hot topic, the rest over 10 000 topics. */
function fillRows(add) {
  const chunk = 10_000;
  for (let start = 0; start < ROWS; start += chunk) {
    const n = Math.min(chunk, ROWS - start);
    const payload = randomBytes(256 * n);
    const rows = [];
    for (let i = 0; i < n; i++) {
      const g = start + i;
      // Cold topics only have history in the oldest 1% of the store.
      const contentTopic = g % 5 === 0 ? HOT : g < ROWS / 100 ? COLD(g % 50) : topicOf(g % 10_000);
      const message = payload.subarray(i * 256, i * 256 + 256);
      rows.push({
        contentTopic,
        timestampNs: 1_700_000_000_000_000_000n + BigInt(g) * 1000n,
        message,
        digest: envelopeDigest(contentTopic, message),
      });
    }
    add(rows);
  }
}

async function sqlitePaging(dir) {
  out(`\n### SQLite paging (${ROWS.toLocaleString("en")} envelopes, page of 100)\n`);
  const { path, store: creator } = await freshSqlite(dir, "paging");
  await creator.stop();
  const db = rawSqlite(path, "OFF");
  const ins = db.prepare(rawInsertSql);
  const fill = db.transaction((rows) => {
    for (const e of rows) ins.run(e.timestampNs - SIGN, e.digest, e.contentTopic, e.message, 0n, 0);
  });
  const t0 = Date.now();
  fillRows(fill);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.exec("ANALYZE");
  console.log(`  (filled in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const store = createSqliteStore({ path });
  await store.start();
  out("| workload | store | same SQL on better-sqlite3 | ratio |");
  out("|---|---|---|---|");
  const mid = await store.query({ topics: [HOT], direction: "desc", limit: ROWS / 10 });
  const cursor = mid[mid.length - 1];
  const cols = "sender_ts, digest, content_topic, message";
  const hotFirst = db.prepare(
    `SELECT ${cols} FROM envelopes WHERE content_topic = ? AND sender_ts >= ? AND sender_ts <= ? ORDER BY sender_ts DESC, digest DESC LIMIT ?`,
  );
  const hotCursor = db.prepare(
    `SELECT ${cols} FROM envelopes WHERE content_topic = ? AND sender_ts >= ? AND sender_ts <= ? AND (sender_ts, digest) < (?, ?) ORDER BY sender_ts DESC, digest DESC LIMIT ?`,
  );
  const MIN = -SIGN;
  const MAX = SIGN - 1n;
  await cmp(
    "hot topic, newest page (DESC)",
    T(() => store.query({ topics: [HOT], direction: "desc", limit: 100 }), 500),
    T(() => hotFirst.all(HOT, MIN, MAX, 100), 500),
  );
  await cmp(
    "hot topic, page from a cursor in the middle",
    T(() => store.query({ topics: [HOT], direction: "desc", limit: 100, cursor }), 500),
    T(
      () => hotCursor.all(HOT, MIN, cursor.timestampNs - SIGN, cursor.timestampNs - SIGN, cursor.digest, 100),
      500,
    ),
  );
  const scanSql = db.prepare(
    `SELECT ${cols} FROM envelopes WHERE sender_ts >= ? AND sender_ts <= ? AND (sender_ts, digest) > (?, ?) ORDER BY sender_ts ASC, digest ASC LIMIT ?`,
  );
  await cmp(
    "scan across all topics from a cursor (ASC)",
    T(() => store.scan({ direction: "asc", limit: 100, cursor }), 500),
    T(() => scanSql.all(cursor.timestampNs - SIGN, MAX, cursor.timestampNs - SIGN, cursor.digest, 100), 500),
  );
  // Multi-topic: our bounded per-topic merge vs the obvious single statement (IN list + sort).
  for (const [label, topics] of MULTI) {
    const inSql = db.prepare(
      `SELECT ${cols} FROM envelopes WHERE content_topic IN (SELECT value FROM json_each(?)) AND sender_ts >= ? AND sender_ts <= ? ORDER BY sender_ts DESC, digest DESC LIMIT ?`,
    );
    const json = JSON.stringify(topics);
    await cmp(
      `${label}, newest page (vs one IN-list statement)`,
      T(() => store.query({ topics, direction: "desc", limit: 100 }), 10),
      T(() => inSql.all(json, MIN, MAX, 100), 10),
    );
  }
  await store.stop();
  db.close();
}

async function pgBench() {
  const schema = `bench_store_${randomBytes(4).toString("hex")}`;
  const rawSchema = `${schema}_raw`;
  // Same connection settings as the store (which plans every statement for its own values).
  const admin = postgres(PG_URL, {
    max: 4,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
    connection: { plan_cache_mode: "force_custom_plan" },
  });
  try {
    out("\n### PostgreSQL inserts (synchronous_commit=on; 256-byte payloads)\n");
    out("| workload | store | raw postgres.js multi-row INSERT | ratio |");
    out("|---|---|---|---|");
    const store = createPostgresStore({ url: PG_URL, schema, poolSize: 8 });
    await store.start();
    const raw = createPostgresStore({ url: PG_URL, schema: rawSchema, poolSize: 1 });
    await raw.start(); // creates the same table for the baseline
    await raw.stop();
    for (const [n, batch] of [
      [20_000, 100],
      [2_000, 1],
    ]) {
      const envs = makeEnvelopes(
        n,
        (i) => topicOf(i % 100),
        1_600_000_000_000_000_000n + BigInt(batch) * 10n ** 15n,
      );
      const [s, r] = await alternateInserts(
        envs,
        batch,
        (rows) => store.insert(rows),
        (batchRows) => {
          const rows = batchRows.map((e) => ({
            sender_ts: e.timestampNs - SIGN,
            digest: Buffer.from(e.digest),
            content_topic: e.contentTopic,
            message: Buffer.from(e.message),
            receiver_ts: 0n,
            should_expire: false,
          }));
          return admin`INSERT INTO ${admin(rawSchema)}.envelopes ${admin(rows)}
            ON CONFLICT (sender_ts, digest) DO NOTHING RETURNING sender_ts, digest`;
        },
      );
      row(`${n} envelopes, sequential batches of ${batch} (per envelope)`, s, r);
    }

    out(`\n### PostgreSQL paging (${ROWS.toLocaleString("en")} envelopes, page of 100)\n`);
    const t0 = Date.now();
    const pending = [];
    fillRows((rows) => pending.push(rows));
    for (let i = 0; i < pending.length; i += 4)
      await Promise.all(pending.slice(i, i + 4).map((r) => store.insert(r)));
    await admin.unsafe(`VACUUM ANALYZE "${schema}".envelopes`);
    console.log(`  (filled in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    out("| workload | store | same SQL on postgres.js | ratio |");
    out("|---|---|---|---|");
    const mid = await store.query({ topics: [HOT], direction: "desc", limit: ROWS / 10 });
    const cursor = mid[mid.length - 1];
    const TABLE = `"${schema}".envelopes`;
    const cols = "sender_ts, digest, content_topic, message";
    const MIN = -SIGN;
    const MAX = SIGN - 1n;
    await cmp(
      "hot topic, newest page (DESC)",
      T(() => store.query({ topics: [HOT], direction: "desc", limit: 100 }), 100),
      T(
        () =>
          admin.unsafe(
            `SELECT ${cols} FROM ${TABLE} WHERE content_topic = $1::text AND sender_ts BETWEEN $2::int8 AND $3::int8 ORDER BY sender_ts DESC, digest DESC LIMIT $4::int4`,
            [HOT, MIN, MAX, 100],
            { prepare: true },
          ),
        100,
      ),
    );
    const c = cursor.timestampNs - SIGN;
    await cmp(
      "hot topic, page from a cursor in the middle",
      T(() => store.query({ topics: [HOT], direction: "desc", limit: 100, cursor }), 100),
      T(
        () =>
          admin.unsafe(
            `SELECT ${cols} FROM ${TABLE} WHERE content_topic = $1::text AND sender_ts BETWEEN $2::int8 AND $3::int8 AND (sender_ts, digest) < ($4::int8, $5::bytea) ORDER BY sender_ts DESC, digest DESC LIMIT $6::int4`,
            [HOT, MIN, c, c, Buffer.from(cursor.digest), 100],
            { prepare: true },
          ),
        100,
      ),
    );
    await cmp(
      "scan across all topics from a cursor (ASC)",
      T(() => store.scan({ direction: "asc", limit: 100, cursor }), 100),
      T(
        () =>
          admin.unsafe(
            `SELECT ${cols} FROM ${TABLE} WHERE sender_ts BETWEEN $1::int8 AND $2::int8 AND (sender_ts, digest) > ($3::int8, $4::bytea) ORDER BY sender_ts ASC, digest ASC LIMIT $5::int4`,
            [c, MAX, c, Buffer.from(cursor.digest), 100],
            { prepare: true },
          ),
        100,
      ),
    );
    for (const [label, topics] of MULTI) {
      await cmp(
        `${label}, newest page (vs one ANY() statement)`,
        T(() => store.query({ topics, direction: "desc", limit: 100 }), 10),
        T(
          () =>
            admin.unsafe(
              `SELECT ${cols} FROM ${TABLE} WHERE content_topic = ANY($1::text[]) AND sender_ts BETWEEN $2::int8 AND $3::int8 ORDER BY sender_ts DESC, digest DESC LIMIT $4::int4`,
              [`{${topics.map((t) => `"${t}"`).join(",")}}`, MIN, MAX, 100],
              { prepare: true },
            ),
          10,
        ),
      );
    }
    await store.stop();
  } finally {
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${rawSchema}" CASCADE`);
    await admin.end();
  }
}

const NOTES = `
Reading the numbers:

- Single-statement rows measure what the store adds on top of the driver (validation, the uint64
  flip, Uint8Array views, a promise). The machine is shared, so expect ±30% run-to-run noise.
- Group commit: with 64 concurrent single-envelope inserts the SQLite store commits once per
  event-loop turn instead of once per insert, which is roughly a 10× per-envelope gain at
  \`synchronous=FULL\` (each caller still resolves only after the shared commit).
- Multi-topic pages: the baseline is the obvious single statement (\`IN (…)\` / \`= ANY(…)\`). SQLite
  walks the topic index per topic and its sorted-IN \`LIMIT\` early-out keeps that bounded, so the
  SQLite store uses exactly that statement. PostgreSQL plans it per topic set: a primary-key walk
  with a topic filter is fast when the topics are recent (hot + 49) but reads the whole table
  when they only have old history (cold topics). The PostgreSQL store uses a per-topic
  \`LATERAL … LIMIT\` instead, bounded by topics × limit index entries in every case.
`;

const dir = mkdtempSync(join(tmpdir(), "xmtp-store-bench-"));
try {
  out(
    `Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${new Date().toISOString().slice(0, 10)}.`,
  );
  out("Ratio = store time / baseline time (lower is better; 1.00 = no overhead).");
  await sqliteInsert(dir);
  await sqlitePaging(dir);
  if (process.env.BENCH_SKIP_PG !== "1") await pgBench();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (process.env.BENCH_NO_DOCS !== "1") {
  const docs = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));
  let text = "";
  try {
    text = readFileSync(docs, "utf8");
  } catch {
    text = "# Benchmarks\n";
  }
  const section = `## Store\n\nMeasured by \`node bench/store.mjs\` (after \`npx tsc -b packages/cli packages/client\`).\n${lines.join("\n")}\n${NOTES}`;
  const start = text.indexOf("\n## Store\n");
  if (start < 0) text = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf("\n## ", start + 1);
    text = `${text.slice(0, start + 1)}${section}${next < 0 ? "" : text.slice(next)}`;
  }
  writeFileSync(docs, text);
}
