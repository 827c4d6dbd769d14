/**
 * The SQLite store's writer thread. A commit at `synchronous=FULL` waits for the disk (fsync), and
 * better-sqlite3 waits synchronously: on the node's event loop that wait stops every other request.
 * Here the file's writing connection lives in a worker thread instead; the event loop hands it the
 * rows of one group commit, keeps reading requests while the disk works, and resolves each insert
 * when the worker reports its transaction committed (so an acknowledged envelope is as durable as
 * before). At most one transaction is in flight; what arrives meanwhile forms the next one.
 *
 * The worker is started from source text (`eval`), so it runs the same way from `dist/` and from
 * the TypeScript sources under test; its only import, the driver, comes by absolute path.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { shouldExpire } from "@xmtp-ts/protocol";
import { toSortable } from "./common.js";
import type { StoredEnvelope } from "./types.js";

/**
 * One transaction's rows as they cross to the thread: fixed-width columns and every digest and
 * message copied into one buffer, all moved (transferred), not cloned value by value.
 */
interface PackedRows {
  /** Rows per caller, in order; each caller's rows are one savepoint. */
  counts: number[];
  /** Per row: rowid, then sender_ts (sortable). */
  ints: BigInt64Array;
  /** Per row: should_expire. */
  expire: Uint8Array;
  topics: string[];
  /** Row i's digest spans offsets[2i]..offsets[2i + 1], its message on to offsets[2i + 2]. */
  bytes: Uint8Array;
  offsets: Uint32Array;
  receivedNs: bigint;
  lastSeq: bigint;
}

/** Packs callers' rows, numbering them from `firstSeq` (receive order, docs/sync.md). */
function pack(
  batches: readonly (readonly StoredEnvelope[])[],
  firstSeq: bigint,
  receivedNs: bigint,
): PackedRows {
  let n = 0;
  let size = 0;
  for (const rows of batches) {
    n += rows.length;
    for (const e of rows) size += e.digest.length + e.message.length;
  }
  const ints = new BigInt64Array(2 * n);
  const expire = new Uint8Array(n);
  const topics: string[] = new Array(n);
  const bytes = new Uint8Array(size);
  const offsets = new Uint32Array(2 * n + 1);
  let i = 0;
  let at = 0;
  for (const rows of batches) {
    for (const e of rows) {
      ints[2 * i] = firstSeq + BigInt(i);
      ints[2 * i + 1] = toSortable(e.timestampNs);
      expire[i] = shouldExpire(e.contentTopic) ? 1 : 0;
      topics[i] = e.contentTopic;
      offsets[2 * i] = at;
      bytes.set(e.digest, at);
      at += e.digest.length;
      offsets[2 * i + 1] = at;
      bytes.set(e.message, at);
      at += e.message.length;
      i++;
    }
  }
  offsets[2 * n] = at;
  return {
    counts: batches.map((rows) => rows.length),
    ints,
    expire,
    topics,
    bytes,
    offsets,
    receivedNs,
    lastSeq: firstSeq + BigInt(n) - 1n,
  };
}

/** What became of one caller's rows in a shared transaction. */
export type WriterOutcome = { ok: boolean[] } | { err: Error };

export interface SqliteWriter {
  /**
   * Commits the callers' batches in one transaction (each in its own savepoint when there are
   * several), numbering the rows from `firstSeq` on, and records the last number as the receive
   * counter. Rejects when the whole transaction failed.
   */
  insert(
    batches: readonly (readonly StoredEnvelope[])[],
    firstSeq: bigint,
    receivedNs: bigint,
  ): Promise<WriterOutcome[]>;
  /** Deletes up to `limit` expiring rows received before the time; resolves with the count. */
  deleteExpired(receivedBeforeNs: bigint, limit: number): Promise<number>;
  /** Waits for what was sent, closes the connection, ends the thread. */
  close(): Promise<void>;
  /** Set once the thread has died other than by close(): why. */
  readonly failure: Error | undefined;
}

export interface SqliteWriterOptions {
  path: string;
  synchronous: "full" | "normal";
  cacheSizeKiB: number;
}

interface WireError {
  message: string;
  code?: string | undefined;
}

type Reply =
  | { id: number; outcomes: ({ ok: boolean[] } | { err: WireError })[] }
  | { id: number; deleted: number }
  | { id: number; error: WireError };

/** The worker's body. Self-contained: it is turned into source text and run in the thread. */
function writerMain(req: (id: string) => unknown): void {
  const WAL_CHECKPOINT_PAGES = 10_000;
  const { parentPort, workerData } = req("node:worker_threads") as typeof import("node:worker_threads");
  const Db = req(workerData.driver) as typeof import("better-sqlite3");
  const port = parentPort as import("node:worker_threads").MessagePort;
  const wire = (err: unknown) => {
    const e = err as { message?: unknown; code?: unknown } | null;
    return {
      message: String(e?.message ?? err),
      code: typeof e?.code === "string" ? e.code : undefined,
    };
  };
  let db: import("better-sqlite3").Database;
  try {
    db = new Db(workerData.path);
    db.defaultSafeIntegers(true);
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${workerData.synchronous === "full" ? "FULL" : "NORMAL"}`);
    db.pragma("busy_timeout = 5000");
    db.pragma(`cache_size = ${-Math.trunc(workerData.cacheSizeKiB)}`);
    db.pragma("temp_store = MEMORY");
    // Checkpoint every ~40 MB of WAL rather than every ~4 MB: a checkpoint runs inside the commit
    // that crosses the mark, and index pages rewritten by many commits are copied once per
    // checkpoint, so under load the writer spends far less time checkpointing (docs/benchmarks.md).
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  } catch (err) {
    port.postMessage({ id: 0, error: wire(err) });
    return;
  }
  const ins = db.prepare(
    `INSERT INTO envelopes (rowid, sender_ts, digest, content_topic, message, receiver_ts, should_expire)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender_ts, digest) DO NOTHING`,
  );
  const counter = db.prepare("UPDATE store_meta SET value = ? WHERE key = 'last_receive_seq'");
  const del = db.prepare(
    `DELETE FROM envelopes WHERE rowid IN (SELECT rowid FROM envelopes
     WHERE should_expire = 1 AND receiver_ts < ? ORDER BY receiver_ts LIMIT ?)`,
  );
  // Digests and messages are views into the one transferred buffer; the driver binds Buffers.
  const commit = db.transaction((p: PackedRows) => {
    const { ints, expire, topics, offsets, receivedNs } = p;
    const buf = p.bytes.buffer;
    const base = p.bytes.byteOffset;
    const insertRows = (from: number, to: number): boolean[] => {
      const ok: boolean[] = [];
      for (let i = from; i < to; i++) {
        const d = base + (offsets[2 * i] as number);
        const m = base + (offsets[2 * i + 1] as number);
        const digest = Buffer.from(buf, d, m - d);
        const message = Buffer.from(buf, m, base + (offsets[2 * i + 2] as number) - m);
        ok.push(
          ins.run(ints[2 * i], ints[2 * i + 1], digest, topics[i], message, receivedNs, expire[i]).changes ===
            1,
        );
      }
      return ok;
    };
    // A nested better-sqlite3 transaction is a savepoint: one caller's batch alone rolls back.
    // A one-row batch needs none: SQLite undoes a failed statement by itself.
    const savepoint = db.transaction(insertRows);
    const outcomes: ({ ok: boolean[] } | { err: WireError })[] = [];
    let from = 0;
    for (const count of p.counts) {
      const to = from + count;
      if (p.counts.length === 1) outcomes.push({ ok: insertRows(from, to) });
      else {
        try {
          outcomes.push({ ok: count === 1 ? insertRows(from, to) : savepoint(from, to) });
        } catch (err) {
          // SQLite may have rolled back the whole transaction (I/O errors): then all fail.
          if (!db.inTransaction) throw err;
          outcomes.push({ err: wire(err) });
        }
      }
      from = to;
    }
    counter.run(p.lastSeq);
    return outcomes;
  });
  port.on("message", (m: { id: number; op: string; rows: PackedRows; before: bigint; limit: number }) => {
    try {
      if (m.op === "insert") port.postMessage({ id: m.id, outcomes: commit(m.rows) });
      else if (m.op === "delete")
        port.postMessage({ id: m.id, deleted: Number(del.run(m.before, m.limit).changes) });
      else if (m.op === "close") {
        db.close();
        port.close();
      }
    } catch (err) {
      port.postMessage({ id: m.id, error: wire(err) });
    }
  });
  port.postMessage({ id: 0, deleted: 0 });
}

const SOURCE = `(${writerMain.toString()})(require);`;

/** A driver error as the store's translation expects it: a message and SQLite's code. */
function errorFrom(w: WireError): Error {
  return Object.assign(new Error(w.message), w.code === undefined ? {} : { code: w.code });
}

/** Starts the writer thread on an existing, migrated database file; resolves once it is open. */
export async function startSqliteWriter(options: SqliteWriterOptions): Promise<SqliteWriter> {
  const worker = new Worker(SOURCE, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve("better-sqlite3"),
      path: options.path,
      synchronous: options.synchronous,
      cacheSizeKiB: options.cacheSizeKiB,
    },
  });
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  let closed = false;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  // The thread keeps the process alive only while something waits for it.
  const settle = (id: number) => {
    waiting.delete(id);
    if (waiting.size === 0) worker.unref();
  };
  const die = (err: Error) => {
    failure ??= err;
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
    worker.unref();
  };
  const opened = new Promise<void>((resolve, reject) => {
    waiting.set(0, {
      resolve: (r) => ("error" in r ? reject(errorFrom(r.error)) : resolve()),
      reject,
    });
  });
  worker.on("message", (r: Reply) => {
    const w = waiting.get(r.id);
    if (w === undefined) return;
    settle(r.id);
    w.resolve(r);
  });
  worker.on("error", (err) => die(err));
  worker.on("exit", (code) => die(new Error(`the store's writer thread stopped (exit code ${code})`)));
  const call = (msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> => {
    if (failure !== undefined) return Promise.reject(failure);
    if (closed) return Promise.reject(new Error("the store's writer thread is closed"));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...msg, id }, transfer);
    });
  };
  try {
    await opened;
  } catch (err) {
    closed = true;
    await worker.terminate();
    throw err;
  }
  worker.unref();
  return {
    get failure() {
      return failure;
    },
    async insert(batches, firstSeq, receivedNs) {
      const rows = pack(batches, firstSeq, receivedNs);
      const moved = [rows.ints.buffer, rows.expire.buffer, rows.bytes.buffer, rows.offsets.buffer];
      const r = await call({ op: "insert", rows }, moved as ArrayBuffer[]);
      if ("error" in r) throw errorFrom(r.error);
      if (!("outcomes" in r)) throw new Error("unexpected writer answer");
      return r.outcomes.map((o) => ("ok" in o ? o : { err: errorFrom(o.err) }));
    },
    async deleteExpired(before, limit) {
      const r = await call({ op: "delete", before, limit });
      if ("error" in r) throw errorFrom(r.error);
      return "deleted" in r ? r.deleted : 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      // Messages are handled in order: what was sent before commits first.
      worker.ref();
      if (failure === undefined) worker.postMessage({ op: "close", id: -1 });
      else await worker.terminate();
      await exited;
    },
  };
}
