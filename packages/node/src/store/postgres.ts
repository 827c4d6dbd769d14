/**
 * The shared store: PostgreSQL through postgres.js (protocol.md §3). Several nodes may use one
 * database and schema at once: migrations run under an advisory lock, inserts are single
 * statements (`ON CONFLICT DO NOTHING RETURNING`) or one transaction, in key order so that two
 * nodes inserting overlapping batches cannot deadlock.
 *
 * Timestamps are stored as `bigint` holding `timestampNs − 2^63` (order-preserving over the whole
 * uint64 range); digests are `bytea`, which orders bytewise unsigned.
 */

import { Code, shouldExpire, XmtpError } from "@xmtp-ts/protocol";
import postgres from "postgres";
import {
  buffer,
  bytes,
  compareKeys,
  fromSortable,
  type NormalQuery,
  normalizeQuery,
  notRunning,
  toSortable,
  validateEnvelopes,
} from "./common.js";
import type { InsertResult, Store, StoredEnvelope, StoreQuery, StoreScan } from "./types.js";

export interface PostgresStoreOptions {
  /** Connection URL, e.g. `postgres://user@host:5432/db`. */
  url: string;
  /** Schema holding the tables (created if missing); default `public`. */
  schema?: string | undefined;
  /** Connections in the pool (default 10). */
  poolSize?: number | undefined;
  /** Node wall clock in ns, stored as receiver time (default `Date.now()`). */
  now?: (() => bigint) | undefined;
}

type Sql = postgres.Sql<{ bigint: bigint }>;

interface Migration {
  version: number;
  name: string;
  sql: (schema: string) => string;
}

/** Append only: never edit a released migration, add the next version. */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "envelopes",
    sql: (s) => `
      CREATE TABLE ${s}.envelopes (
        sender_ts bigint NOT NULL,
        digest bytea NOT NULL CHECK (octet_length(digest) = 32),
        content_topic text COLLATE "C" NOT NULL,
        message bytea NOT NULL,
        receiver_ts bigint NOT NULL,
        should_expire boolean NOT NULL,
        PRIMARY KEY (sender_ts, digest)
      );
      -- Payloads are ciphertext: compressing them is wasted work.
      ALTER TABLE ${s}.envelopes ALTER COLUMN message SET STORAGE EXTERNAL;
      CREATE INDEX envelopes_topic_ts_digest ON ${s}.envelopes (content_topic, sender_ts, digest);
    `,
  },
  {
    version: 2,
    name: "expiring index",
    // Retention scans only rows that may expire, oldest received first.
    sql: (s) => `CREATE INDEX envelopes_expiring ON ${s}.envelopes (receiver_ts) WHERE should_expire;`,
  },
];

/** Advisory lock class for migrations ("XMTP"); the second key is hashtext(schema). */
const LOCK_CLASS = 0x584d5450;
/** Rows and payload bytes per INSERT statement; larger batches use several in one transaction. */
const CHUNK_ROWS = 1000;
const CHUNK_BYTES = 8 * 1024 * 1024;
/** An exact count(*) is used below this estimated size. */
const EXACT_COUNT_BELOW = 1_000_000;
const RETRYABLE = new Set(["40P01", "40001"]);

interface Row {
  sender_ts: bigint;
  digest: Buffer;
  content_topic: string;
  message: Buffer;
}

/** Creates a PostgreSQL-backed {@link Store}; call `start()` before use. */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  const schemaName = options.schema ?? "public";
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schemaName)) {
    throw new XmtpError(Code.InvalidArgument, `"schema" expected an SQL identifier, got ${schemaName}`);
  }
  const S = `"${schemaName}"`;
  const T = `${S}.envelopes`;
  const now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  let state: "new" | "running" | "stopped" = "new";
  let sql: Sql | undefined;
  let starting: Promise<void> | undefined;

  const open = (): Sql => {
    if (state !== "running" || sql === undefined) throw notRunning(state === "new" ? "new" : "stopped");
    return sql;
  };

  const INSERT = `
    INSERT INTO ${T} (sender_ts, digest, content_topic, message, receiver_ts, should_expire)
    SELECT ts, d, t, m, $5, e FROM unnest($1::int8[], $2::bytea[], $3::text[], $4::bytea[], $6::bool[]) AS u(ts, d, t, m, e)
    ON CONFLICT (sender_ts, digest) DO NOTHING
    RETURNING sender_ts, digest`;

  const insertChunk = (
    db: Sql | postgres.TransactionSql<{ bigint: bigint }>,
    rows: Keyed[],
    receivedNs: bigint,
  ) =>
    db.unsafe<{ sender_ts: bigint; digest: Buffer }[]>(
      INSERT,
      [
        `{${rows.map((r) => r.ts).join(",")}}`,
        byteaArray(rows.map((r) => r.e.digest)),
        textArray(rows.map((r) => r.e.contentTopic)),
        byteaArray(rows.map((r) => r.e.message)),
        receivedNs,
        `{${rows.map((r) => (shouldExpire(r.e.contentTopic) ? "t" : "f")).join(",")}}`,
      ],
      { prepare: true },
    );

  const doInsert = async (envelopes: StoredEnvelope[]): Promise<InsertResult> => {
    const db = open();
    // Key order makes concurrent overlapping batches lock rows in the same order (no deadlocks).
    const keyed: Keyed[] = envelopes.map((e, i) => ({ e, i, ts: toSortable(e.timestampNs) }));
    keyed.sort((a, b) => compareKeys(a.e, b.e));
    const chunks = chunk(keyed);
    const receivedNs = now();
    let returned: { sender_ts: bigint; digest: Buffer }[];
    if (chunks.length === 1) {
      returned = await insertChunk(db, chunks[0]!, receivedNs);
    } else {
      returned = await db.begin(async (tx) => {
        const out: { sender_ts: bigint; digest: Buffer }[] = [];
        for (const c of chunks) out.push(...(await insertChunk(tx, c, receivedNs)));
        return out;
      });
    }
    const fresh = new Set(returned.map((r) => `${r.sender_ts}:${r.digest.toString("hex")}`));
    const inserted = new Array<boolean>(envelopes.length).fill(false);
    for (const k of keyed) {
      const key = `${k.ts}:${buffer(k.e.digest).toString("hex")}`;
      // The first occurrence of a key within the batch is the one that was stored.
      if (fresh.delete(key)) inserted[k.i] = true;
    }
    return { inserted };
  };

  /** The range, optional cursor and limit of a query, with parameters numbered from `$n`. */
  const window = (q: NormalQuery, n: number) => {
    const params: (bigint | Buffer | number)[] = [q.lo, q.hi];
    let where = `sender_ts BETWEEN $${n}::int8 AND $${n + 1}::int8`;
    if (q.cursor !== undefined) {
      where += ` AND (sender_ts, digest) ${q.direction === "asc" ? ">" : "<"} ($${n + 2}::int8, $${n + 3}::bytea)`;
      params.push(q.cursor.ts, q.cursor.digest);
    }
    params.push(q.limit);
    return { where, params, limit: `$${n + params.length - 1}::int4` };
  };
  const order = (q: NormalQuery, prefix = ""): string => {
    const dir = q.direction === "asc" ? "ASC" : "DESC";
    return `ORDER BY ${prefix}sender_ts ${dir}, ${prefix}digest ${dir}`;
  };

  const toEnvelope = (r: Row): StoredEnvelope => ({
    contentTopic: r.content_topic,
    timestampNs: fromSortable(r.sender_ts),
    message: bytes(r.message),
    digest: bytes(r.digest),
  });

  const run = async (q: NormalQuery): Promise<StoredEnvelope[]> => {
    const db = open();
    if (q.lo > q.hi) return [];
    let text: string;
    let params: (string | bigint | Buffer | number)[];
    if (q.topics.length === 0) {
      // No topic: the primary key (sender_ts, digest) is the order.
      const w = window(q, 1);
      params = w.params;
      text = `SELECT sender_ts, digest, content_topic, message FROM ${T}
        WHERE ${w.where} ${order(q)} LIMIT ${w.limit}`;
    } else if (q.topics.length === 1) {
      const w = window(q, 2);
      params = [q.topics[0]!, ...w.params];
      text = `SELECT sender_ts, digest, content_topic, message FROM ${T}
        WHERE content_topic = $1::text AND ${w.where} ${order(q)} LIMIT ${w.limit}`;
    } else {
      // Several topics: at most `limit` keys per topic from the index, merged, then the rows.
      // Bounded by topics × limit index entries however large each topic is.
      const w = window(q, 2);
      params = [textArray(q.topics), ...w.params];
      text = `SELECT e.sender_ts, e.digest, e.content_topic, e.message FROM (
          SELECT k.sender_ts, k.digest FROM unnest($1::text[]) AS t(topic)
          CROSS JOIN LATERAL (
            SELECT sender_ts, digest FROM ${T}
            WHERE content_topic = t.topic AND ${w.where} ${order(q)} LIMIT ${w.limit}
          ) AS k
          ${order(q, "k.")} LIMIT ${w.limit}
        ) AS k JOIN ${T} AS e ON e.sender_ts = k.sender_ts AND e.digest = k.digest
        ${order(q, "e.")}`;
    }
    const rows = await db.unsafe<Row[]>(text, params as never[], { prepare: true });
    return rows.map(toEnvelope);
  };

  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw translate(err);
    }
  };

  return {
    start() {
      if (state === "running") return Promise.resolve();
      // Concurrent start() calls share one attempt (one pool).
      starting ??= (async () => {
        const db: Sql = postgres(options.url, {
          max: options.poolSize ?? 10,
          types: { bigint: postgres.BigInt },
          onnotice: () => {},
          connect_timeout: 10,
          // Statements stay prepared (no re-parse), but each run is planned for its own values:
          // a generic plan picked on a hot topic (scan the primary key, filter the topic) would
          // crawl through the whole table for a rare one.
          connection: { application_name: "xmtp-node", plan_cache_mode: "force_custom_plan" },
        });
        try {
          await migrate(db, schemaName, S);
        } catch (err) {
          await db.end({ timeout: 1 }).catch(() => {});
          throw translate(err);
        }
        sql = db;
        state = "running";
      })().finally(() => {
        starting = undefined;
      });
      return starting;
    },

    async stop() {
      await starting?.catch(() => {});
      const db = sql;
      sql = undefined;
      state = "stopped";
      // Waits for queries in flight (e.g. an insert about to commit) before closing.
      await db?.end({ timeout: 10 });
    },

    async insert(envelopes) {
      validateEnvelopes(envelopes);
      open();
      if (envelopes.length === 0) return { inserted: [] };
      for (let attempt = 1; ; attempt++) {
        try {
          return await doInsert(envelopes);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (attempt < 4 && typeof code === "string" && RETRYABLE.has(code)) continue;
          throw translate(err);
        }
      }
    },

    query(q: StoreQuery) {
      return guard(async () => run(normalizeQuery(q, true)));
    },

    scan(q: StoreScan) {
      return guard(async () => run(normalizeQuery(q, false)));
    },

    deleteExpired(receivedBeforeNs: bigint, limit: number) {
      return guard(async () => {
        const r = await open().unsafe(
          `DELETE FROM ${T} WHERE ctid IN (SELECT ctid FROM ${T}
           WHERE should_expire AND receiver_ts < $1 ORDER BY receiver_ts LIMIT $2)`,
          [receivedBeforeNs, limit],
          { prepare: true },
        );
        return r.count;
      });
    },

    newestTimestampNs() {
      return guard(async () => {
        const [r] = await open().unsafe<{ m: bigint | null }[]>(`SELECT max(sender_ts) AS m FROM ${T}`, [], {
          prepare: true,
        });
        return r?.m == null ? undefined : fromSortable(r.m);
      });
    },

    count() {
      return guard(async () => {
        const db = open();
        const [est] = await db.unsafe<{ n: number }[]>(
          "SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::regclass",
          [`${S}.envelopes`],
        );
        if (est !== undefined && est.n >= EXACT_COUNT_BELOW) return Math.round(est.n);
        const [r] = await db.unsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM ${T}`, [], { prepare: true });
        return Number(r!.n);
      });
    },

    async healthy() {
      if (state !== "running" || sql === undefined) return false;
      const db = sql;
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("health check timed out")), 5000);
        });
        const [r] = await Promise.race([db.unsafe<{ ok: number }[]>("SELECT 1 AS ok"), timeout]);
        return r?.ok === 1;
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

interface Keyed {
  e: StoredEnvelope;
  i: number;
  ts: bigint;
}

function chunk(rows: Keyed[]): Keyed[][] {
  const out: Keyed[][] = [];
  let cur: Keyed[] = [];
  let size = 0;
  for (const r of rows) {
    const n = r.e.message.length + r.e.contentTopic.length + 64;
    if (cur.length > 0 && (cur.length >= CHUNK_ROWS || size + n > CHUNK_BYTES)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(r);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** A PostgreSQL array literal of bytea values (hex format). */
function byteaArray(xs: Uint8Array[]): string {
  return `{${xs.map((x) => `"\\\\x${buffer(x).toString("hex")}"`).join(",")}}`;
}

/** A PostgreSQL array literal of text values; every element quoted, so NULL stays a string. */
function textArray(xs: string[]): string {
  return `{${xs.map((x) => `"${x.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;
}

async function migrate(db: Sql, schemaName: string, S: string): Promise<void> {
  const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  await db.begin(async (tx) => {
    // Serialises nodes starting together against one schema; released at commit.
    await tx.unsafe("SELECT pg_advisory_xact_lock($1::int4, hashtext($2::text))", [LOCK_CLASS, schemaName]);
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${S}`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${S}.store_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const rows = await tx.unsafe<{ version: number }[]>(`SELECT version FROM ${S}.store_migrations`);
    const applied = new Set(rows.map((r) => r.version));
    const max = Math.max(0, ...applied);
    if (max > newest) {
      throw new XmtpError(
        Code.FailedPrecondition,
        `database schema version ${max} is newer than this node supports (${newest})`,
      );
    }
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await tx.unsafe(m.sql(S));
      await tx.unsafe(`INSERT INTO ${S}.store_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
    }
  });
}

const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/** Driver errors become XmtpErrors here, once (architecture.md §6.3). */
function translate(err: unknown): XmtpError {
  if (err instanceof XmtpError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "23514" || code === "22021") {
    return new XmtpError(Code.InvalidArgument, "envelope rejected by the store (digest must be 32 bytes)", {
      cause: err,
    });
  }
  if (typeof code === "string" && (UNAVAILABLE.has(code) || code.startsWith("08"))) {
    return new XmtpError(Code.Unavailable, "store is unavailable", { cause: err });
  }
  if (typeof code === "string" && RETRYABLE.has(code)) {
    return new XmtpError(Code.Aborted, "store transaction conflict, retry", { cause: err });
  }
  return XmtpError.from(err, Code.Internal);
}
