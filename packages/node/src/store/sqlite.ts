/**
 * The embedded store: one SQLite file through better-sqlite3 (protocol.md §3).
 *
 * Durability: WAL with `synchronous=FULL` by default, so a resolved insert survives a process kill
 * and a power loss. `synchronous: "normal"` is also safe against a process kill (the WAL frames
 * are written to the OS before the commit returns; only an OS crash or power loss can roll back
 * the newest transactions) and is offered for operators who accept that.
 *
 * Throughput: concurrent `insert()` calls made before the event loop turns are committed together
 * in one transaction (group commit). Each caller's batch runs in its own savepoint, so it stays
 * all-or-nothing on its own, and every caller resolves only after the shared commit. A database
 * file is written by a worker thread (sqlite-writer.ts), so the event loop goes on serving while
 * a commit waits for the disk; inserts made meanwhile form the next transaction. Reads use this
 * thread's own connection (WAL: a committed row is visible to it at once).
 */

import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { Code, shouldExpire, XmtpError } from "@xmtp-ts/protocol";
import Database from "better-sqlite3";
import {
  buffer,
  bytes,
  checkReceivedLimits,
  decodePosition,
  encodePosition,
  fromSortable,
  type NormalQuery,
  normalizeQuery,
  notRunning,
  toSortable,
  validateEnvelopes,
  withinBytes,
} from "./common.js";
import { type SqliteWriter, startSqliteWriter } from "./sqlite-writer.js";
import type {
  EnvelopeKey,
  InsertResult,
  ReceivedLimits,
  Store,
  StoredEnvelope,
  StoreHealth,
  StoreQuery,
  StoreScan,
} from "./types.js";

export interface SqliteStoreOptions {
  /** Database file; `":memory:"` for a throwaway store. */
  path: string;
  /** `"full"` (default): survives power loss. `"normal"`: survives process kills only. */
  synchronous?: "full" | "normal" | undefined;
  /** Coalesce concurrent inserts into one transaction (default true). */
  groupCommit?: boolean | undefined;
  /**
   * Commit in a worker thread (default true for a file with group commit; never for `:memory:`,
   * which no second connection can open).
   */
  writerThread?: boolean | undefined;
  /** Page cache size in KiB (default 32768). */
  cacheSizeKiB?: number | undefined;
  /** Node wall clock in ns, stored as receiver time (default `Date.now()`). */
  now?: (() => bigint) | undefined;
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Append only: never edit a released migration, add the next version. */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "envelopes",
    // sender_ts holds timestampNs − 2^63 so the signed INTEGER order is the uint64 order.
    sql: `
      CREATE TABLE envelopes (
        sender_ts INTEGER NOT NULL,
        digest BLOB NOT NULL CHECK (length(digest) = 32),
        content_topic TEXT NOT NULL,
        message BLOB NOT NULL,
        receiver_ts INTEGER NOT NULL,
        should_expire INTEGER NOT NULL CHECK (should_expire IN (0, 1))
      ) STRICT;
      CREATE UNIQUE INDEX envelopes_ts_digest ON envelopes (sender_ts, digest);
      CREATE INDEX envelopes_topic_ts_digest ON envelopes (content_topic, sender_ts, digest);
    `,
  },
  {
    version: 2,
    name: "expiring index",
    // Retention scans only rows that may expire, oldest received first.
    sql: "CREATE INDEX envelopes_expiring ON envelopes (receiver_ts) WHERE should_expire = 1;",
  },
  {
    version: 3,
    name: "receive order",
    // The rowid is the receive order (docs/sync.md): existing rowids are already in insertion
    // order, and the counter keeps numbers from being reused after deletions.
    sql: `
      CREATE TABLE store_meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT;
      INSERT INTO store_meta (key, value) VALUES ('store_id', randomblob(16));
      INSERT INTO store_meta (key, value) SELECT 'last_receive_seq', coalesce(max(rowid), 0) FROM envelopes;
    `,
  },
];

interface Pending {
  rows: StoredEnvelope[];
  resolve: (r: InsertResult) => void;
  reject: (e: unknown) => void;
}

interface FullRow {
  sender_ts: bigint;
  digest: Buffer;
  content_topic: string;
  message: Buffer;
}

const COLUMNS = "sender_ts, digest, content_topic, message";

/** Creates a SQLite-backed {@link Store}; call `start()` before use. */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const synchronous = options.synchronous ?? "full";
  const groupCommit = options.groupCommit ?? true;
  const now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  let state: "new" | "running" | "stopped" = "new";
  let db: Database.Database | undefined;
  let queue: Pending[] = [];
  let flushScheduled = false;
  const inMemory = options.path === ":memory:" || options.path === "";
  const useWriter = (options.writerThread ?? true) && groupCommit && !inMemory;
  let writer: SqliteWriter | undefined;
  /** The transaction the writer thread is committing, if any. */
  let inFlight: Promise<void> | undefined;
  /**
   * After a commit, the callers it acknowledged usually come straight back with their next
   * insert. Starting the next transaction with only those already queued would split steady
   * clients into two halves taking turns on the disk; instead the next transaction waits until
   * the queue holds as many callers again (those queued plus those just acknowledged), or for about
   * one commit's time at most, so one sync acknowledges them all. A lone caller is never held up:
   * its own insert meets the target.
   */
  let gather: { target: number; timer: NodeJS.Timeout } | undefined;
  const endGather = () => {
    if (gather === undefined) return;
    clearTimeout(gather.timer);
    gather = undefined;
  };
  const statements = new Map<string, Database.Statement>();
  /**
   * A condition of the database itself, kept until it is seen to be over: a full disk clears once
   * a write goes through again; a damaged file only with a restart after recovery.
   */
  let fault: StoreFault | undefined;
  const fail = (err: unknown): XmtpError => {
    const f = faultOf(err);
    if (f !== undefined && fault?.kind !== "damaged") fault = f;
    return translate(err);
  };
  /** This store's id and the last receive number handed out (docs/sync.md). */
  let storeId: Uint8Array = new Uint8Array(0);
  let lastSeq = 0n;

  const open = (): Database.Database => {
    if (state !== "running" || db === undefined) throw notRunning(state === "new" ? "new" : "stopped");
    return db;
  };

  const stmt = (sql: string): Database.Statement => {
    let s = statements.get(sql);
    if (s === undefined) {
      s = open().prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };

  const insertRows = (rows: StoredEnvelope[]): boolean[] => {
    const ins = stmt(
      `INSERT INTO envelopes (rowid, sender_ts, digest, content_topic, message, receiver_ts, should_expire)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender_ts, digest) DO NOTHING`,
    );
    const receivedNs = now();
    return rows.map((e) => {
      // A number taken by a duplicate or a rolled-back batch is simply skipped: gaps are fine.
      lastSeq++;
      return (
        ins.run(
          lastSeq,
          toSortable(e.timestampNs),
          buffer(e.digest),
          e.contentTopic,
          buffer(e.message),
          receivedNs,
          shouldExpire(e.contentTopic) ? 1 : 0,
        ).changes === 1
      );
    });
  };

  /** Hands the queued inserts to the writer thread as one transaction (one at a time). */
  const flushToWriter = (w: SqliteWriter, force = false): void => {
    if (inFlight !== undefined) return; // the next transaction forms while this one commits
    if (!force && gather !== undefined && queue.length < gather.target) return;
    endGather();
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    // A number taken by a duplicate or a rolled-back batch is simply skipped: gaps are fine.
    const firstSeq = lastSeq + 1n;
    for (const p of batch) lastSeq += BigInt(p.rows.length);
    const started = performance.now();
    inFlight = w
      .insert(
        batch.map((p) => p.rows),
        firstSeq,
        now(),
      )
      .then(
        (outcomes) => {
          // A commit went through: whatever stopped writes (a full disk) is over.
          if (fault?.kind !== "damaged") fault = undefined;
          batch.forEach((p, i) => {
            const o = outcomes[i]!;
            if ("ok" in o) p.resolve({ inserted: o.ok });
            else p.reject(fail(o.err));
          });
        },
        (err: unknown) => {
          const e = w.failure === undefined ? fail(err) : writerGone(w.failure);
          for (const p of batch) p.reject(e);
        },
      );
    void inFlight.finally(() => {
      inFlight = undefined;
      if (writer !== w) return; // stopping: stop() drains the queue itself
      const waitMs = Math.min(GATHER_MAX_MS, Math.max(1, Math.round(performance.now() - started)));
      gather = {
        target: queue.length + batch.length,
        timer: setTimeout(() => flushToWriter(w, true), waitMs),
      };
      flushToWriter(w);
    });
  };

  const flush = (): void => {
    flushScheduled = false;
    if (writer !== undefined) {
      flushToWriter(writer);
      return;
    }
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    let d: Database.Database;
    try {
      d = open();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    const outcomes: ({ ok: boolean[] } | { err: unknown })[] = [];
    try {
      d.transaction(() => {
        for (const p of batch) {
          if (batch.length === 1) {
            outcomes.push({ ok: insertRows(p.rows) });
            continue;
          }
          try {
            // A nested better-sqlite3 transaction is a savepoint: this batch alone rolls back.
            // A one-row batch needs none: SQLite undoes a failed statement by itself.
            outcomes.push({
              ok: p.rows.length === 1 ? insertRows(p.rows) : d.transaction(insertRows)(p.rows),
            });
          } catch (err) {
            // SQLite may have rolled back the whole transaction (I/O errors): then all fail.
            if (!d.inTransaction) throw err;
            outcomes.push({ err });
          }
        }
        stmt("UPDATE store_meta SET value = ? WHERE key = 'last_receive_seq'").run(lastSeq);
      })();
    } catch (err) {
      const e = fail(err);
      for (const p of batch) p.reject(e);
      return;
    }
    // A commit went through: whatever stopped writes (a full disk) is over.
    if (fault?.kind !== "damaged") fault = undefined;
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if ("ok" in o) p.resolve({ inserted: o.ok });
      else p.reject(fail(o.err));
    });
  };

  const keyCondition = (q: NormalQuery): string =>
    q.cursor === undefined ? "" : `AND (sender_ts, digest) ${q.direction === "asc" ? ">" : "<"} (?, ?)`;
  const order = (q: NormalQuery): string => {
    const dir = q.direction === "asc" ? "ASC" : "DESC";
    return `ORDER BY sender_ts ${dir}, digest ${dir}`;
  };
  const params = (q: NormalQuery): unknown[] =>
    q.cursor === undefined ? [q.lo, q.hi, q.limit] : [q.lo, q.hi, q.cursor.ts, q.cursor.digest, q.limit];

  const toEnvelope = (r: FullRow): StoredEnvelope => ({
    contentTopic: r.content_topic,
    timestampNs: fromSortable(r.sender_ts),
    message: bytes(r.message),
    digest: bytes(r.digest),
  });

  /**
   * The statement's rows as envelopes; with `maxBytes`, read one at a time and stopped at the mark
   * (see {@link StoreQuery.maxBytes}), so rows past it are never loaded.
   */
  const collect = (s: Database.Statement, q: NormalQuery, args: unknown[]): StoredEnvelope[] => {
    if (q.maxBytes === undefined) return (s.all(...args) as FullRow[]).map(toEnvelope);
    const out: StoredEnvelope[] = [];
    let bytes = 0;
    for (const row of s.iterate(...args) as IterableIterator<FullRow>) {
      out.push(toEnvelope(row));
      bytes += row.message.length;
      if (bytes >= q.maxBytes) break;
    }
    return out;
  };

  /** One topic: a straight range read of the (topic, ts, digest) index. */
  const queryOne = (topic: string, q: NormalQuery): StoredEnvelope[] =>
    collect(
      stmt(
        `SELECT ${COLUMNS} FROM envelopes
       WHERE content_topic = ? AND sender_ts >= ? AND sender_ts <= ? ${keyCondition(q)}
       ${order(q)} LIMIT ?`,
      ),
      q,
      [topic, ...params(q)],
    );

  /**
   * Several topics in one statement, topics passed as one JSON array (no bound-parameter limit).
   * SQLite walks the (topic, ts, digest) index once per topic and its ORDER BY … LIMIT sorter
   * skips to the next topic as soon as a topic's rows can no longer make the page, so the work
   * stays bounded by topics × limit however large or old each topic is (docs/benchmarks.md: hot,
   * small and cold-only topic sets all take about a millisecond at 1M rows).
   */
  const queryMany = (q: NormalQuery): StoredEnvelope[] =>
    collect(
      stmt(
        `SELECT ${COLUMNS} FROM envelopes
       WHERE content_topic IN (SELECT value FROM json_each(?)) AND sender_ts >= ? AND sender_ts <= ? ${keyCondition(q)}
       ${order(q)} LIMIT ?`,
      ),
      q,
      [JSON.stringify(q.topics), ...params(q)],
    );

  const scanAll = (q: NormalQuery): StoredEnvelope[] =>
    collect(
      stmt(
        `SELECT ${COLUMNS} FROM envelopes
       WHERE sender_ts >= ? AND sender_ts <= ? ${keyCondition(q)}
       ${order(q)} LIMIT ?`,
      ),
      q,
      params(q),
    );

  const run = (q: NormalQuery): StoredEnvelope[] => {
    if (q.lo > q.hi) return [];
    if (q.topics.length === 0) return scanAll(q);
    if (q.topics.length === 1) return queryOne(q.topics[0]!, q);
    return queryMany(q);
  };

  const guard = async <T>(fn: () => T): Promise<T> => {
    try {
      return fn();
    } catch (err) {
      throw fail(err);
    }
  };

  /** Free bytes on the database's file system (Infinity in memory or when unknown). */
  const freeBytes = (): number => {
    if (options.path === ":memory:" || options.path === "") return Number.POSITIVE_INFINITY;
    try {
      const fs = statfsSync(dirname(options.path));
      return fs.bavail * fs.bsize;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  };

  const health = async (): Promise<StoreHealth> => {
    if (state !== "running") return { ok: false, error: notRunning(state).message };
    if (fault?.kind === "damaged") return { ok: false, error: fault.message };
    if (writer?.failure !== undefined) return { ok: false, error: writerGone(writer.failure).message };
    try {
      // Reads the newest rows' pages, not just the connection.
      stmt("SELECT rowid FROM envelopes ORDER BY rowid DESC LIMIT 1").get();
      if (fault !== undefined) {
        // Writes failed: serve again only once there is room and a write goes through.
        if (freeBytes() < MIN_FREE_BYTES) return { ok: false, error: fault.message };
        stmt("UPDATE store_meta SET value = value WHERE key = 'last_receive_seq'").run();
        fault = undefined;
      }
      return { ok: true };
    } catch (err) {
      return { ok: false, error: fail(err).message };
    }
  };

  return {
    async start() {
      if (state === "running") return;
      const d = new Database(options.path);
      try {
        d.defaultSafeIntegers(true);
        d.pragma("journal_mode = WAL");
        d.pragma(`synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
        d.pragma("busy_timeout = 5000");
        d.pragma(`cache_size = ${-Math.trunc(options.cacheSizeKiB ?? 32768)}`);
        d.pragma("temp_store = MEMORY");
        migrate(d);
        const meta = (key: string) =>
          (d.prepare("SELECT value FROM store_meta WHERE key = ?").get(key) as { value: unknown }).value;
        storeId = bytes(meta("store_id") as Buffer);
        const counter = meta("last_receive_seq") as bigint;
        lastSeq = counter;
      } catch (err) {
        d.close();
        throw translate(err);
      }
      fault = undefined;
      try {
        // Rows written by an older version advanced the rowid, not the counter.
        const maxRowid = (
          d.prepare("SELECT coalesce(max(rowid), 0) AS m FROM envelopes").get() as { m: bigint }
        ).m;
        if (maxRowid > lastSeq) lastSeq = maxRowid;
      } catch (err) {
        // The schema reads but the rows do not: start anyway, refusing writes, so /healthz can say
        // why (a node that exits at once explains nothing to a load balancer).
        fault = faultOf(err);
        if (fault?.kind !== "damaged") {
          d.close();
          throw translate(err);
        }
      }
      if (useWriter) {
        try {
          writer = await startSqliteWriter({
            path: options.path,
            synchronous,
            cacheSizeKiB: options.cacheSizeKiB ?? 32768,
          });
        } catch (err) {
          d.close();
          throw translate(err);
        }
      }
      db = d;
      statements.clear();
      state = "running";
    },

    async stop() {
      if (state !== "running") {
        state = "stopped";
        return;
      }
      flush();
      state = "stopped";
      // Every insert handed over commits (or fails) before the connections close.
      const w = writer;
      writer = undefined;
      if (w !== undefined) {
        endGather();
        while (inFlight !== undefined || queue.length > 0) {
          if (inFlight === undefined) flushToWriter(w, true);
          await inFlight;
        }
        await w.close();
      }
      statements.clear();
      const d = db;
      db = undefined;
      d?.close();
    },

    insert(envelopes) {
      try {
        validateEnvelopes(envelopes);
        open();
        // Writing into a damaged file could spread the damage.
        if (fault?.kind === "damaged") throw new XmtpError(Code.Unavailable, fault.message);
      } catch (err) {
        return Promise.reject(err);
      }
      if (envelopes.length === 0) return Promise.resolve({ inserted: [] });
      return new Promise<InsertResult>((resolve, reject) => {
        queue.push({ rows: [...envelopes], resolve, reject });
        if (!groupCommit) return flush();
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      });
    },

    query(q: StoreQuery) {
      return guard(() => {
        const n = normalizeQuery(q, true);
        open();
        return run(n);
      });
    },

    scan(q: StoreScan) {
      return guard(() => {
        const n = normalizeQuery(q, false);
        open();
        return run(n);
      });
    },

    receivedSince(position: Uint8Array | undefined, limits: ReceivedLimits) {
      return guard(() => {
        checkReceivedLimits(limits);
        open();
        const [after = 0n] = decodePosition(position, storeId, 1) ?? [];
        const rows = stmt(
          `SELECT rowid AS seq, ${COLUMNS} FROM envelopes WHERE rowid > ? ORDER BY rowid LIMIT ?`,
        ).all(after, limits.limit) as (FullRow & { seq: bigint })[];
        const page = withinBytes(rows, limits.maxBytes);
        const last = page[page.length - 1]?.seq ?? after;
        return { envelopes: page.map(toEnvelope), position: encodePosition(storeId, [last]) };
      });
    },

    holds(keys: readonly EnvelopeKey[]) {
      return guard(() => {
        const one = stmt("SELECT 1 FROM envelopes WHERE sender_ts = ? AND digest = ?");
        return keys.map((k) => one.get(toSortable(k.timestampNs), k.digest) !== undefined);
      });
    },

    deleteExpired(receivedBeforeNs: bigint, limit: number) {
      if (writer !== undefined) {
        // The writer thread holds the write lock between its commits: it deletes too.
        const w = writer;
        return w
          .deleteExpired(receivedBeforeNs, limit)
          .catch((err: unknown) =>
            Promise.reject(w.failure === undefined ? fail(err) : writerGone(w.failure)),
          );
      }
      return guard(
        () =>
          stmt(
            `DELETE FROM envelopes WHERE rowid IN (SELECT rowid FROM envelopes
             WHERE should_expire = 1 AND receiver_ts < ? ORDER BY receiver_ts LIMIT ?)`,
          ).run(receivedBeforeNs, limit).changes,
      );
    },

    id() {
      open();
      return storeId;
    },

    newestTimestampNs() {
      return guard(() => {
        const r = stmt("SELECT max(sender_ts) AS m FROM envelopes").get() as { m: bigint | null };
        return r.m === null ? undefined : fromSortable(r.m);
      });
    },

    count() {
      return guard(() => Number((stmt("SELECT count(*) AS n FROM envelopes").get() as { n: bigint }).n));
    },

    health,

    async healthy() {
      return (await health()).ok;
    },
  };
}

function migrate(d: Database.Database): void {
  d.exec(`CREATE TABLE IF NOT EXISTS store_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ns INTEGER NOT NULL) STRICT`);
  const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  // IMMEDIATE takes the write lock first, so two processes opening one file apply each step once.
  const step = d.transaction((m: Migration) => {
    const done = d.prepare("SELECT 1 FROM store_migrations WHERE version = ?").get(m.version);
    if (done !== undefined) return;
    d.exec(m.sql);
    d.prepare("INSERT INTO store_migrations (version, name, applied_at_ns) VALUES (?, ?, ?)").run(
      m.version,
      m.name,
      BigInt(Date.now()) * 1_000_000n,
    );
  });
  const applied = d.prepare("SELECT max(version) AS v FROM store_migrations").get() as { v: bigint | null };
  if (applied.v !== null && applied.v > BigInt(newest)) {
    throw new XmtpError(
      Code.FailedPrecondition,
      `database schema version ${applied.v} is newer than this node supports (${newest})`,
    );
  }
  for (const m of MIGRATIONS) step.immediate(m);
}

/** The writer thread died: nothing can be written until the node restarts. */
function writerGone(cause: Error): XmtpError {
  return new XmtpError(Code.Unavailable, `store unavailable: ${cause.message}`, { cause });
}

/** The longest a formed transaction waits for callers just acknowledged to come back. */
const GATHER_MAX_MS = 5;

/** Below this much free space a store whose writes failed stays unhealthy. */
const MIN_FREE_BYTES = 8 * 1_048_576;

interface StoreFault {
  kind: "full" | "damaged" | "io";
  message: string;
}

/** The database-level condition an error reveals, if any. */
function faultOf(err: unknown): StoreFault | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const detail = (err as Error).message;
  if (code === "SQLITE_FULL") {
    return {
      kind: "full",
      message:
        "disk full: the store cannot write (free space on the data dir's disk; the node recovers by itself)",
    };
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return {
      kind: "damaged",
      message: `the database file is damaged (${detail}): stop the node and recover it (docs/operations.md)`,
    };
  }
  if (code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_READONLY")) {
    return { kind: "io", message: `store I/O error (${detail})` };
  }
  return undefined;
}

/** Driver errors become XmtpErrors here, once (architecture.md §6.3). */
function translate(err: unknown): XmtpError {
  if (err instanceof XmtpError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT")) {
    // The driver names the rule and column, e.g. "NOT NULL constraint failed: envelopes.message".
    return new XmtpError(Code.InvalidArgument, `envelope rejected by the store: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const f = faultOf(err);
  if (f !== undefined) return new XmtpError(Code.Unavailable, f.message, { cause: err });
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") {
    return new XmtpError(Code.Unavailable, "store is busy", { cause: err });
  }
  if (err instanceof TypeError && /not open/.test(err.message)) {
    return new XmtpError(Code.Unavailable, "store is stopped", { cause: err });
  }
  return XmtpError.from(err, Code.Internal);
}
