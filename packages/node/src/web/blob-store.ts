/**
 * Where the node keeps encrypted attachment blobs: in the node's own database (the SQLite file or
 * the PostgreSQL schema of the envelope store), in a `blobs` table of its own, keyed by the
 * SHA-256 of the bytes. The node never sees plaintext: clients upload what they encrypted.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
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
  get(digest: string): Promise<StoredBlob | undefined>;
}

/** The blob store beside the envelope store `config` describes. */
export function createBlobStore(config: Pick<NodeConfig, "dbUrl" | "dbSchema" | "dataDir">): BlobStore {
  if (config.dbUrl !== undefined) return postgresBlobStore(config.dbUrl, config.dbSchema ?? "public");
  return sqliteBlobStore(join(config.dataDir, "xmtp.sqlite3"));
}

/** A second connection to the node's SQLite file (WAL: readers never block the envelope writer). */
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
