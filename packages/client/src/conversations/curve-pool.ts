/**
 * Curve workers: small worker threads that run only the secp256k1 part of opening invitations
 * (curve-jobs.ts), while this thread decodes, fetches the next page and runs its own share. A
 * batch is cut into small chunks that this thread and each worker take in turn, so whoever is
 * faster (a worker on an idle core, or this thread when the machine is busy) does more of it, and
 * a pool never makes a batch slower than this thread alone by more than a chunk.
 *
 * Worker threads in Node (found through `process.getBuiltinModule`, with the built
 * `curve-worker.js` next to this module), module workers in browsers (see `browserWorkers`);
 * elsewhere {@link curvePoolFor} returns undefined and batches run here.
 * `XMTP_CURVE_WORKERS=<n>` sets the size (0 turns it off); the default is one per core but one
 * (one on 2 cores: with this thread taking its share, both cores work), up to 4.
 */
import { secp256k1Backend } from "@xmtp-ts/protocol";
import {
  type CurveBackend,
  type CurveJob,
  type CurveResult,
  packJobs,
  runCurveJob,
  unpackResults,
} from "./curve-jobs.js";
import type { CurveReply, CurveRequest } from "./curve-worker.js";
import { spawnWorkers } from "./worker-pool.js";

/** Invitations one listing must meet before it starts the pool (a page of the invite topic). */
export const CURVE_POOL_START = 100;
/**
 * Curve operations (ECDHs, signature checks, recoveries: ~0.2–0.3 ms each on one core) handed out
 * at a time: about 8 invitations or 32 messages.
 */
export const CURVE_CHUNK_OPS = 40;

interface PoolWorker {
  postMessage(m: CurveRequest, transfer?: ArrayBuffer[]): void;
  on(ev: "message", f: (m: CurveReply) => void): void;
  on(ev: "error", f: (e: unknown) => void): void;
  on(ev: "exit", f: (code: number) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

export class CurveWorker {
  private nextId = 1;
  private busy = 0;
  private readonly pending = new Map<
    number,
    { resolve: (r: CurveResult[]) => void; reject: (e: unknown) => void }
  >();
  /** The backend the worker loaded ("libsecp256k1-wasm"), once it has. */
  backend: string | undefined;
  failed = false;
  /** Resolves once the worker has loaded its backend or failed. */
  readonly started: Promise<void>;
  private onStarted!: () => void;

  /** `wasm`: the module the worker instantiates (this thread's compiled libsecp256k1), if any. */
  constructor(
    private readonly w: PoolWorker,
    wasm: object | undefined,
  ) {
    this.started = new Promise((r) => {
      this.onStarted = r;
    });
    w.postMessage({ id: 0, wasm });
    w.on("message", (m) => {
      if (m.id === 0) {
        if (m.ready !== undefined) this.backend = m.ready;
        else this.failed = true;
        this.onStarted();
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (--this.busy === 0) w.unref();
      if (m.results) p.resolve(unpackResults(m.results));
      else p.reject(new Error(m.error ?? "curve worker failed"));
    });
    const fail = (e: unknown) => {
      this.failed = true;
      this.onStarted();
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`curve worker exited (${code})`)));
    // After the listeners (a "message" listener refs the port): an idle pool never keeps the
    // process alive.
    w.unref();
  }

  get ready(): boolean {
    return this.backend === "libsecp256k1-wasm" && !this.failed;
  }

  /** Runs `jobs` in the worker; rejects when they cannot be packed or the worker fails. */
  run(jobs: CurveJob[]): Promise<CurveResult[]> {
    if (this.failed) return Promise.reject(new Error("curve worker is gone"));
    const packed = packJobs(jobs);
    if (!packed) return Promise.reject(new RangeError("curve job with unexpected lengths"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.busy++ === 0) this.w.ref();
      this.w.postMessage({ id, jobs: packed }, [packed.buffer as ArrayBuffer]);
    });
  }

  terminate(): Promise<number> {
    return this.w.terminate();
  }
}

export class CurvePool {
  private readonly workers: CurveWorker[];
  /** Each worker instantiates `wasm`, the module this thread compiled (see curve-worker.ts). */
  constructor(workers: PoolWorker[], wasm: object | undefined) {
    this.workers = workers.map((w) => new CurveWorker(w, wasm));
  }

  get size(): number {
    return this.workers.length;
  }

  /** Resolves once every worker has loaded libsecp256k1 or failed. */
  async whenStarted(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.started));
  }

  /** Workers that have loaded libsecp256k1 and not failed. */
  readyWorkers(): CurveWorker[] {
    return this.workers.filter((w) => w.ready);
  }

  /** Workers that are ready or still starting (a batch takes the latter on once they are ready). */
  liveWorkers(): CurveWorker[] {
    return this.workers.filter((w) => !w.failed);
  }

  /** Runs `jobs` here and on the live workers together (see {@link runCurveJobs}). */
  run(jobs: CurveJob[], local: CurveBackend): Promise<CurveResult[]> {
    return runCurveJobs(jobs, local, this.liveWorkers());
  }

  /** Stops the workers; the next listing that needs a pool starts a new one. */
  async close(): Promise<void> {
    if (shared === this) shared = undefined;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Runs `jobs` on this thread (`local`) and on `workers` (ready ones at once, starting ones once
 * they are ready) together, in chunks of about
 * {@link CURVE_CHUNK_OPS} operations taken in turn, yielding to the event loop between this
 * thread's chunks (so the next page is fetched and worker replies are read meanwhile); results in
 * order. When this thread has taken the last chunk, it waits for the workers' chunks still out for
 * about twice what a chunk costs it, then redoes any still missing itself (a worker starved of CPU
 * on a busy machine never holds a batch back); a chunk whose worker fails runs here too.
 */
export async function runCurveJobs(
  jobs: CurveJob[],
  local: CurveBackend,
  workers: CurveWorker[] = [],
): Promise<CurveResult[]> {
  const results: CurveResult[] = new Array(jobs.length);
  let next = 0;
  const take = (): [number, number] => {
    const s = next;
    for (let ops = 0; next < jobs.length && ops < CURVE_CHUNK_OPS; next++) {
      const j = jobs[next]!;
      ops += j.ecdh.length + j.verify.length + (j.recover ? 1 : 0) || 1;
    }
    return [s, next];
  };
  let chunkMs = 0;
  let chunksHere = 0;
  const here = (s: number, e: number) => {
    const t0 = performance.now();
    for (let i = s; i < e; i++) results[i] = runCurveJob(local, jobs[i]!);
    chunkMs += performance.now() - t0;
    chunksHere++;
  };
  interface Out {
    s: number;
    e: number;
    done: boolean;
    settled: Promise<void>;
  }
  const out = new Set<Out>();
  const viaWorker = async (w: CurveWorker) => {
    for (let [s, e] = take(); s < e; [s, e] = take()) {
      const run = w.run(jobs.slice(s, e));
      const o: Out = { s, e, done: false, settled: run.then(noop, noop) };
      out.add(o);
      try {
        const r = await run;
        if (!o.done) for (let i = s; i < e; i++) results[i] = r[i - s]!;
      } catch {
        if (!o.done) here(s, e);
      }
      o.done = true;
      out.delete(o);
    }
  };
  // Two chunks in flight per worker, so it never waits for this thread to hand it the next. A
  // worker still starting joins once it is ready, if chunks are left by then.
  const join = (w: CurveWorker) => {
    if (!w.ready || next >= jobs.length) return;
    void viaWorker(w);
    void viaWorker(w);
  };
  for (const w of workers) {
    if (w.ready) join(w);
    else if (!w.failed) void w.started.then(() => join(w));
  }
  for (let [s, e] = take(); s < e; [s, e] = take()) {
    here(s, e);
    if (next < jobs.length) await yieldNow();
  }
  while (out.size > 0) {
    const wait = Math.max(2, chunksHere > 0 ? (2 * chunkMs) / chunksHere : 20);
    for (const o of [...out]) {
      await Promise.race([o.settled, sleep(wait)]);
      if (!o.done) {
        o.done = true;
        out.delete(o);
        here(o.s, o.e);
      }
    }
  }
  return results;
}

const noop = () => {};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A macrotask turn: setImmediate in Node, a MessageChannel message in browsers (no 4 ms clamp). */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => {
    const g = globalThis as { setImmediate?: (f: () => void) => unknown };
    if (g.setImmediate) {
      g.setImmediate(resolve);
      return;
    }
    if (typeof MessageChannel !== "undefined") {
      const c = new MessageChannel();
      c.port1.onmessage = () => {
        c.port1.close();
        resolve();
      };
      c.port2.postMessage(null);
      return;
    }
    setTimeout(resolve, 0);
  });
}

let shared: CurvePool | null | undefined;

/**
 * The pool for a listing that has met `seen` invitations so far: started once `seen` reaches
 * {@link CURVE_POOL_START}, returned while it has a worker that is ready or starting (undefined
 * otherwise, and where there are no workers: run here).
 */
export function curvePoolFor(seen: number): CurvePool | undefined {
  const pool = seen >= CURVE_POOL_START ? curvePool() : (shared ?? undefined);
  return pool && pool.liveWorkers().length > 0 ? pool : undefined;
}

/** The process-wide curve pool, created on first use; undefined where it cannot run. */
export function curvePool(): CurvePool | undefined {
  if (shared !== undefined) return shared ?? undefined;
  // A small heap: a worker holds a few chunks of bytes at a time (peak memory counts too).
  const module = secp256k1Backend().module;
  const workers =
    (spawnWorkers(new URL("./curve-worker.js", import.meta.url), "XMTP_CURVE_WORKERS", 4, 1, {
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
    }) as PoolWorker[] | undefined) ?? (module ? browserWorkers() : undefined);
  shared = workers ? new CurvePool(workers, module) : null;
  return shared ?? undefined;
}

/**
 * Browser curve workers: module workers from the built `curve-worker.js` next to this module
 * (Vite and webpack see the `new Worker(new URL(…, import.meta.url))` below and bundle it; with
 * esbuild, bundle `dist/conversations/curve-worker.js` on its own next to the app), one per core
 * but one, up to 4, each handed the page's compiled libsecp256k1 module (by the pool). None where
 * there is no `Worker`, in Node (worker threads there), or while this page runs on noble. A worker that fails
 * to load only leaves the work on this thread.
 */
function browserWorkers(): PoolWorker[] | undefined {
  const g = globalThis as {
    process?: unknown;
    navigator?: { hardwareConcurrency?: number };
  };
  const n = Math.min(4, (g.navigator?.hardwareConcurrency ?? 1) - 1);
  if (typeof Worker !== "function" || g.process !== undefined || n < 1) return undefined;
  const workers: PoolWorker[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./curve-worker.js", import.meta.url), {
        type: "module",
        name: "xmtp-curve",
      });
      workers.push(fromWebWorker(w));
    }
  } catch {
    for (const w of workers) void w.terminate();
    return undefined;
  }
  return workers;
}

/** A web `Worker` behind the worker-thread interface the pool speaks (no ref counting there). */
function fromWebWorker(w: Worker): PoolWorker {
  return {
    postMessage: (m, transfer) => w.postMessage(m, transfer ?? []),
    on(ev: "message" | "error" | "exit", f: (x: never) => void) {
      if (ev === "message") {
        w.addEventListener("message", (e) => (f as (m: CurveReply) => void)(e.data as CurveReply));
      } else if (ev === "error") {
        const fail = (e: Event) => {
          e.preventDefault();
          (f as (e: unknown) => void)(
            new Error(`curve worker failed: ${(e as ErrorEvent).message || "could not load its script"}`),
          );
        };
        w.addEventListener("error", fail);
        w.addEventListener("messageerror", fail);
      }
    },
    ref() {},
    unref() {},
    async terminate() {
      w.terminate();
      return 0;
    },
  } as PoolWorker;
}
