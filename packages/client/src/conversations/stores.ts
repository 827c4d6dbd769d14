/**
 * Durable {@link ConversationStore}s: a directory of files for Node (each value written
 * atomically: a temp file, fsync, rename, fsync of the directory) and IndexedDB for browsers.
 * Both hold opaque bytes by key, so the same store can keep the conversation snapshot and the
 * keys (`keyStore`). Neither imports a Node module: the file store finds `node:fs` with
 * `process.getBuiltinModule`, so the entry still bundles for browsers.
 */
import { invalidArgument, XmtpError } from "../errors.js";
import { type ConversationStore, MAX_SNAPSHOT_BYTES } from "./persistence.js";

type Fs = typeof import("node:fs/promises");
type Path = typeof import("node:path");

function builtin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.(id) as T | undefined;
  if (!mod) throw invalidArgument("store", `the file store needs Node.js 20.16 or newer (${id} not found)`);
  return mod;
}

export interface FileStoreOptions {
  /** Largest value read back (default 64 MiB, the snapshot bound); larger files are an error. */
  maxBytes?: number;
}

/**
 * A store in a directory (created if missing), one file per key, for Node apps and CLIs:
 * `fileConversationStore("./xmtp-data")`. A write never leaves a torn file behind: the value goes
 * to a temporary file that is flushed to disk and then renamed over the old one.
 */
export function fileConversationStore(dir: string, options: FileStoreOptions = {}): ConversationStore {
  const fs = builtin<Fs>("node:fs/promises");
  const path = builtin<Path>("node:path");
  const maxBytes = options.maxBytes ?? MAX_SNAPSHOT_BYTES;
  const fileOf = (key: string) => path.join(dir, `${encodeURIComponent(key)}.bin`);
  let ready: Promise<unknown> | undefined;
  const mkdir = () => {
    ready ??= fs.mkdir(dir, { recursive: true }).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
  return {
    async get(key) {
      let handle: Awaited<ReturnType<Fs["open"]>>;
      try {
        handle = await fs.open(fileOf(key), "r");
      } catch (err) {
        if ((err as { code?: string }).code === "ENOENT") return undefined;
        throw err;
      }
      try {
        const { size } = await handle.stat();
        if (size > maxBytes)
          throw new XmtpError(
            "invalid-argument",
            `${fileOf(key)} has ${size} bytes, at most ${maxBytes} read`,
            {
              argument: "store",
            },
          );
        return new Uint8Array(await handle.readFile());
      } finally {
        await handle.close();
      }
    },
    async set(key, value) {
      await mkdir();
      const file = fileOf(key);
      const tmp = `${file}.${Date.now().toString(36)}${Math.random().toString(36).slice(2)}.tmp`;
      const handle = await fs.open(tmp, "w", 0o600);
      try {
        await handle.writeFile(value);
        await handle.sync();
      } catch (err) {
        await handle.close().catch(() => undefined);
        await fs.rm(tmp, { force: true });
        throw err;
      }
      await handle.close();
      await fs.rename(tmp, file);
      // The rename itself is durable once the directory is flushed (where the platform allows it).
      const d = await fs.open(dir, "r").catch(() => undefined);
      await d
        ?.sync()
        .catch(() => undefined)
        .finally(() => d.close());
    },
  };
}

/** The parts of the IndexedDB API the store uses (`globalThis.indexedDB` in browsers). */
export interface IndexedDbFactoryLike {
  open(name: string, version?: number): IdbOpenRequestLike;
}
interface IdbRequestLike<T> {
  result: T;
  error: unknown;
  onsuccess: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
interface IdbOpenRequestLike extends IdbRequestLike<IdbDatabaseLike> {
  onupgradeneeded: ((ev: unknown) => void) | null;
  onblocked?: ((ev: unknown) => void) | null;
}
interface IdbDatabaseLike {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(
    name: string,
    mode: "readonly" | "readwrite",
  ): {
    objectStore(name: string): {
      get(key: string): IdbRequestLike<unknown>;
      put(value: unknown, key: string): IdbRequestLike<unknown>;
    };
    oncomplete: ((ev: unknown) => void) | null;
    onerror: ((ev: unknown) => void) | null;
    onabort: ((ev: unknown) => void) | null;
    error: unknown;
  };
}

export interface IndexedDbStoreOptions {
  /** Database name (default `"xmtp-ts"`). */
  database?: string;
  /** Object store name (default `"store"`). */
  objectStore?: string;
  /** The IndexedDB factory (default `globalThis.indexedDB`). */
  indexedDB?: IndexedDbFactoryLike;
}

const request = <T>(r: IdbRequestLike<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/**
 * A store in IndexedDB, for browser apps: `indexedDbConversationStore()`. It holds far more than
 * Web Storage's few megabytes, and values are kept as bytes (no base64).
 */
export function indexedDbConversationStore(options: IndexedDbStoreOptions = {}): ConversationStore {
  const factory =
    options.indexedDB ?? (globalThis as { indexedDB?: IndexedDbFactoryLike }).indexedDB ?? undefined;
  if (!factory) throw invalidArgument("indexedDB", "IndexedDB is not available here");
  const dbName = options.database ?? "xmtp-ts";
  const storeName = options.objectStore ?? "store";
  let db: Promise<IdbDatabaseLike> | undefined;
  const open = () => {
    db ??= new Promise<IdbDatabaseLike>((resolve, reject) => {
      const req = factory.open(dbName, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(storeName)) req.result.createObjectStore(storeName);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }).catch((err: unknown) => {
      db = undefined;
      throw err;
    });
    return db;
  };
  return {
    async get(key) {
      const tx = (await open()).transaction(storeName, "readonly");
      const v = await request(tx.objectStore(storeName).get(key));
      return v instanceof Uint8Array ? v : v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
    },
    async set(key, value) {
      const tx = (await open()).transaction(storeName, "readwrite");
      const done = new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
      tx.objectStore(storeName).put(value.slice(), key);
      await done;
    },
  };
}
