/**
 * A small key-value store over IndexedDB: the account (wallet key and XMTP keys), settings, the
 * SDK's conversation snapshot and the cached conversation previews all live here, so a reload
 * starts from what the last visit knew and never asks the wallet to sign again.
 */

const DB_NAME = "xmtp-web";
const STORE = "kv";

export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Removes every key (sign out). */
  clear(): Promise<void>;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function openDb(): Promise<IDBDatabase> {
  const req = indexedDB.open(DB_NAME, 1);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
  };
  return request(req);
}

/** The browser's IndexedDB store (one database per origin). */
export function indexedDbStore(): KeyValueStore {
  let db: Promise<IDBDatabase> | undefined;
  const run = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>) => {
    db ??= openDb();
    const tx = (await db).transaction(STORE, mode);
    return request(fn(tx.objectStore(STORE)));
  };
  return {
    get: async <T>(key: string) => (await run("readonly", (s) => s.get(key))) as T | undefined,
    set: async (key, value) => {
      await run("readwrite", (s) => s.put(value, key));
    },
    delete: async (key) => {
      await run("readwrite", (s) => s.delete(key));
    },
    clear: async () => {
      await run("readwrite", (s) => s.clear());
    },
  };
}
