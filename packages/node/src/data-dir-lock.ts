/**
 * One node per data dir: the dir holds the node key (the peer id) and, with SQLite, the database,
 * so a second node on it would share both. `node.lock` holds the owner's pid; a lock whose process
 * is gone (the node was killed) is taken over.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Another running node holds the data dir. */
export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `data dir ${dataDir} is in use by another node (pid ${pid}); stop it or choose another --data-dir ` +
        `(if no such node runs, delete ${join(dataDir, LOCK_FILE)})`,
    );
  }
}

export const LOCK_FILE = "node.lock";

/** Data dirs locked by this process (a pid alone cannot tell two nodes of one process apart). */
const heldHere = new Set<string>();

export interface DataDirLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the data dir's lock or throws {@link DataDirLockedError}. */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  if (heldHere.has(dir)) throw new DataDirLockedError(dir, process.pid);
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      // `wx`: created only if absent, atomically, so two nodes starting together cannot both win.
      writeFileSync(file, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
      // Stale: unreadable, left by a killed node, or by an earlier run under this very pid.
      const stale = !(Number.isSafeInteger(pid) && pid > 0) || pid === process.pid || !alive(pid);
      if (!stale || attempt > 0) throw new DataDirLockedError(dir, pid);
      unlinkSync(file);
    }
  }
  heldHere.add(dir);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      heldHere.delete(dir);
      try {
        if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
      } catch {
        // Already gone.
      }
    },
  };
}
