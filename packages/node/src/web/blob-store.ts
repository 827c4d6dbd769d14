/**
 * Where the node keeps encrypted attachment blobs, keyed by the SHA-256 of the bytes. The node
 * never sees plaintext: clients upload what they encrypted.
 *
 * - Beside a SQLite store: one file per blob under `<data dir>/blobs/`, written and read through
 *   the file system's thread pool, so a 32 MiB upload neither stops the event loop nor holds the
 *   database's one write lock while envelopes wait to commit. Blobs that earlier versions kept in a
 *   `blobs` table of the SQLite file stay readable from there.
 * - Beside a PostgreSQL store: a `blobs` table in the store's schema (shared by every node on it).
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  statfs,
  unlink,
} from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import Database from "better-sqlite3";
import postgres from "postgres";
import type { NodeConfig } from "../config.js";

export interface StoredBlob {
  bytes: Uint8Array;
  createdMs: number;
}

export interface BlobStore {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stores `bytes` under `digest` (sha256 hex) unless already there; returns false if it was. */
  put(digest: string, bytes: Uint8Array, uploader: string): Promise<boolean>;
  /**
   * Where the store can take a blob as it arrives, a writer for one: the upload is written while
   * it is read, so it is never held whole in memory, and the disk gets it gradually rather than
   * 32 MiB at once. Without one, uploads are collected and handed to {@link put}.
   */
  writer?(): BlobWriter;
  get(digest: string): Promise<StoredBlob | undefined>;
  /** The blob as a stream of its file, where the store keeps it in one; undefined otherwise. */
  open?(digest: string): Promise<{ stream: Readable; size: number } | undefined>;
}

/** One blob being written (see {@link BlobStore.writer}). */
export interface BlobWriter {
  /** Appends bytes; wait for each write before the next. */
  write(chunk: Uint8Array): Promise<void>;
  /** Keeps what was written under `digest`; false when the store already had that blob. */
  commit(digest: string, uploader: string): Promise<boolean>;
  /** Drops what was written. Safe to call after a failed write or commit. */
  abort(): Promise<void>;
}

/** Free disk space that blob uploads leave to the envelope store by default. */
export const DEFAULT_BLOB_DISK_RESERVE_BYTES = 256 * 1024 * 1024;

/**
 * The blob store beside the envelope store `config` describes. Beside SQLite, uploads stop while
 * less than `diskReserveBytes` (default 256 MiB) is free on the data dir's file system, so
 * attachments never fill the disk that messages need.
 */
export function createBlobStore(
  config: Pick<NodeConfig, "dbUrl" | "dbSchema" | "dataDir">,
  options: { diskReserveBytes?: number | undefined } = {},
): BlobStore {
  if (config.dbUrl !== undefined) return postgresBlobStore(config.dbUrl, config.dbSchema ?? "public");
  return fileBlobStore(join(config.dataDir, "blobs"), {
    legacySqlite: join(config.dataDir, "xmtp.sqlite3"),
    diskReserveBytes: options.diskReserveBytes ?? DEFAULT_BLOB_DISK_RESERVE_BYTES,
  });
}

const DIGEST = /^[0-9a-f]{64}$/;

/** A blob being written is synced to disk each time this much more of it has been written. */
const SYNC_EVERY_BYTES = 2 * 1024 * 1024;

/**
 * One file per blob in `dir`, named by its digest. A blob is written to a temporary file, synced,
 * then renamed into place (and the directory synced), so a crash leaves either the whole blob or
 * none; temporaries left by a crash are removed at start.
 *
 * - `legacySqlite`: a SQLite file whose `blobs` table (earlier versions) is still read, never
 *   written.
 * - `diskReserveBytes`: free space on the file system that uploads must leave. An upload is
 *   refused (ResourceExhausted), and what it wrote removed, as soon as a check finds less free. The
 *   checks run at its first write and at each sync.
 */
export function fileBlobStore(
  dir: string,
  options: { legacySqlite?: string; diskReserveBytes?: number } = {},
): BlobStore {
  const { legacySqlite, diskReserveBytes = 0 } = options;
  const checkSpace = async () => {
    if (diskReserveBytes <= 0) return;
    const fs = await statfs(dir);
    if (fs.bavail * fs.bsize < diskReserveBytes)
      throw new XmtpError(
        Code.ResourceExhausted,
        "the node's disk is nearly full: it takes no more attachments",
      );
  };
  let legacy: Database.Database | undefined;
  const pathOf = (digest: string) => {
    if (!DIGEST.test(digest)) throw new Error(`not a blob digest: ${digest}`);
    return join(dir, digest);
  };
  const legacyRow = (digest: string) =>
    legacy?.prepare("SELECT bytes, created_ms FROM blobs WHERE digest = ?").get(digest) as
      | { bytes: Buffer; created_ms: number }
      | undefined;
  const syncDir = async () => {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  };
  const has = (digest: string) =>
    existsSync(pathOf(digest)) ||
    legacy?.prepare("SELECT 1 FROM blobs WHERE digest = ?").get(digest) !== undefined;
  const writer = (): BlobWriter => {
    const tmp = join(dir, `.${randomUUID()}.tmp`);
    let file: FileHandle | undefined;
    let done = false;
    let unsynced = 0;
    const drop = async () => {
      done = true;
      await file?.close().catch(() => undefined);
      file = undefined;
      await unlink(tmp).catch(() => undefined);
    };
    return {
      async write(chunk) {
        if (done) throw new Error("blob writer already finished");
        if (file === undefined) {
          await checkSpace();
          file = await open(tmp, "wx");
        }
        for (let at = 0; at < chunk.byteLength; )
          at += (await file.write(chunk, at, chunk.byteLength - at)).bytesWritten;
        // Synced a few MiB at a time, so the disk (which the envelope store's commits share) takes
        // a blob gradually rather than in one 32 MiB flush at the end, and the free space is
        // checked again as the file grows.
        unsynced += chunk.byteLength;
        if (unsynced >= SYNC_EVERY_BYTES) {
          unsynced = 0;
          await file.datasync();
          await checkSpace();
        }
      },
      async commit(digest) {
        if (done) throw new Error("blob writer already finished");
        const path = pathOf(digest);
        try {
          if (has(digest)) {
            await drop();
            return false;
          }
          file ??= await open(tmp, "wx");
          await file.sync();
          await file.close();
          file = undefined;
          await rename(tmp, path);
          done = true;
          await syncDir();
          return true;
        } catch (err) {
          await drop();
          throw err;
        }
      },
      abort: drop,
    };
  };
  return {
    async start() {
      await mkdir(dir, { recursive: true });
      for (const name of await readdir(dir))
        if (name.endsWith(".tmp")) await unlink(join(dir, name)).catch(() => undefined);
      if (legacySqlite !== undefined && existsSync(legacySqlite)) {
        const db = new Database(legacySqlite, { readonly: true, fileMustExist: true });
        const hasTable = db
          .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blobs'")
          .get();
        if (hasTable) legacy = db;
        else db.close();
      }
    },
    async stop() {
      legacy?.close();
      legacy = undefined;
    },
    async put(digest, bytes, uploader) {
      // The writer's commit finds a blob already stored, and drops the copy.
      const w = writer();
      try {
        await w.write(bytes);
      } catch (err) {
        await w.abort();
        throw err;
      }
      return w.commit(digest, uploader);
    },
    writer,
    async open(digest) {
      const path = pathOf(digest);
      let file: FileHandle;
      try {
        file = await open(path, "r");
      } catch (err) {
        if ((err as { code?: string }).code === "ENOENT") return undefined;
        throw err;
      }
      try {
        const { size } = await file.stat();
        return { stream: file.createReadStream({ autoClose: true }), size };
      } catch (err) {
        await file.close();
        throw err;
      }
    },
    async get(digest) {
      const path = pathOf(digest);
      try {
        const [bytes, st] = await Promise.all([readFile(path), stat(path)]);
        return {
          bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          createdMs: st.mtimeMs,
        };
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOENT") throw err;
      }
      const row = legacyRow(digest);
      return row && { bytes: new Uint8Array(row.bytes), createdMs: row.created_ms };
    },
  };
}

/**
 * Blobs in a `blobs` table of a SQLite file, as earlier versions kept them (a second connection to
 * the node's file). Its writes run on the calling thread; the node now uses {@link fileBlobStore}.
 */
export function sqliteBlobStore(path: string): BlobStore {
  let db: Database.Database | undefined;
  const open = () => {
    if (!db) throw new Error("blob store not started");
    return db;
  };
  return {
    async start() {
      if (path !== ":memory:") mkdirSync(join(path, ".."), { recursive: true });
      db = new Database(path);
      db.pragma("journal_mode = WAL");
      db.pragma("busy_timeout = 5000");
      db.exec(
        "CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, bytes BLOB NOT NULL, uploader TEXT NOT NULL, created_ms INTEGER NOT NULL)",
      );
    },
    async stop() {
      db?.close();
      db = undefined;
    },
    async put(digest, bytes, uploader) {
      const r = open()
        .prepare("INSERT OR IGNORE INTO blobs (digest, bytes, uploader, created_ms) VALUES (?, ?, ?, ?)")
        .run(digest, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), uploader, Date.now());
      return r.changes === 1;
    },
    async get(digest) {
      const row = open().prepare("SELECT bytes, created_ms FROM blobs WHERE digest = ?").get(digest) as
        | { bytes: Buffer; created_ms: number }
        | undefined;
      return row && { bytes: new Uint8Array(row.bytes), createdMs: row.created_ms };
    },
  };
}

/** A small pool on the node's PostgreSQL database, in the store's schema. */
export function postgresBlobStore(url: string, schema: string): BlobStore {
  let sql: postgres.Sql | undefined;
  const open = () => {
    if (!sql) throw new Error("blob store not started");
    return sql;
  };
  return {
    async start() {
      sql = postgres(url, { max: 4, onnotice: () => {}, connect_timeout: 10 });
      await sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`;
      await sql`CREATE TABLE IF NOT EXISTS ${sql(schema)}.blobs (digest TEXT PRIMARY KEY, bytes BYTEA NOT NULL, uploader TEXT NOT NULL, created_ms BIGINT NOT NULL)`;
    },
    async stop() {
      await sql?.end({ timeout: 5 });
      sql = undefined;
    },
    async put(digest, bytes, uploader) {
      const s = open();
      const r = await s`INSERT INTO ${s(schema)}.blobs (digest, bytes, uploader, created_ms)
        VALUES (${digest}, ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)}, ${uploader}, ${Date.now()})
        ON CONFLICT (digest) DO NOTHING`;
      return r.count === 1;
    },
    async get(digest) {
      const s = open();
      const rows = await s<
        { bytes: Buffer; created_ms: string }[]
      >`SELECT bytes, created_ms FROM ${s(schema)}.blobs WHERE digest = ${digest}`;
      const row = rows[0];
      return row && { bytes: new Uint8Array(row.bytes), createdMs: Number(row.created_ms) };
    },
  };
}
