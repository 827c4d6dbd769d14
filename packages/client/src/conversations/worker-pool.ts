/**
 * A pool of worker threads for bulk conversation crypto (listing invitations, reading many V2
 * messages), so every core works on it. Node only: it is found at runtime through
 * `process.getBuiltinModule` and needs the built `crypto-worker.js` next to this module; anywhere
 * else {@link cryptoPool} returns undefined and callers do the work on the calling thread.
 * `XMTP_CRYPTO_WORKERS=<n>` sets the pool size (0 or 1 turns it off). The default is one worker per
 * core but one, up to 8: the calling thread keeps a core for fetching pages and building messages,
 * so a 2-core machine gets no pool (its one worker would only move the work, not share it).
 */
import type { Envelope } from "@xmtp-ts/proto";
import type { OwnKeys } from "../keys/own-keys.js";
import type { WorkerRequest, WorkerResult } from "./crypto-worker.js";
import { InvitationError, type InvitationErrorReason, type OpenedInvitation } from "./invitation.js";
import {
  type DecodedV2,
  type DecodeV2Input,
  MessageDecodeError,
  type MessageDecodeErrorReason,
} from "./v2.js";

/**
 * Smallest batch handed to the workers. Smaller ones stay on the calling thread: 50 invitations
 * are ~0.1 s of libsecp256k1 work on one core, which copying keys and envelopes to the workers and
 * back and waking them does not win back on a small machine.
 */
export const POOL_MIN_ITEMS = 64;

/**
 * Items one listing or history read must reach before it starts the pool. Starting is not free:
 * every worker loads the SDK and its own libsecp256k1 (~0.3 s of CPU each on an idle 2-core
 * machine, several seconds on a loaded one), CPU that a short listing would rather spend on its
 * own work. With libsecp256k1 a 300-conversation list takes well under a second on one thread, so
 * only operations past this size start the pool; they use it once it is ready.
 */
export const POOL_START_ITEMS = 500;

type Builtin = <T>(id: string) => T | undefined;
const getBuiltin: Builtin | undefined = (() => {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return p?.getBuiltinModule ? <T>(id: string) => p.getBuiltinModule!(id) as T | undefined : undefined;
})();

interface PoolWorker {
  postMessage(m: unknown): void;
  on(
    ev: "message",
    f: (m: { id: number; results?: WorkerResult[]; error?: string; ready?: string }) => void,
  ): void;
  on(ev: "error", f: (e: unknown) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

export class CryptoPool {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: WorkerResult[]) => void; reject: (e: unknown) => void; w: number }
  >();
  private readonly busy: number[];
  private rr = 0;
  /** The secp256k1 backend each worker reported once it was ready (see crypto-worker.ts). */
  readonly backends: string[] = [];
  private readonly allReady: Promise<void>;
  private onReady!: () => void;

  constructor(private readonly workers: PoolWorker[]) {
    this.busy = workers.map(() => 0);
    this.allReady = new Promise((r) => {
      this.onReady = r;
    });
    workers.forEach((w, i) => {
      w.on("message", (m) => {
        if (m.ready !== undefined) {
          this.backends.push(m.ready);
          if (this.ready) this.onReady();
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (--this.busy[i]! === 0) w.unref();
        if (m.error !== undefined || !m.results) p.reject(new Error(m.error ?? "worker failed"));
        else p.resolve(m.results);
      });
      w.on("error", (e) => {
        for (const [id, p] of this.pending) {
          if (p.w !== i) continue;
          this.pending.delete(id);
          p.reject(e);
        }
      });
      // After the listeners: adding a "message" listener refs the worker's port again, and an
      // idle pool must never keep the process alive.
      w.unref();
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * True once every worker has loaded its code and libsecp256k1. Until then work stays on the
   * calling thread: a job sent to a booting worker waits for the boot, which can cost more than
   * doing the job here.
   */
  get ready(): boolean {
    return this.backends.length === this.workers.length;
  }

  /** Resolves once {@link ready} is true. */
  whenReady(): Promise<void> {
    return this.allReady;
  }

  private send(build: (id: number) => WorkerRequest): Promise<WorkerResult[]> {
    const i = this.rr++ % this.workers.length;
    const w = this.workers[i]!;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, w: i });
      if (this.busy[i]!++ === 0) w.ref();
      w.postMessage(build(id));
    });
  }

  private async spread<T>(
    items: T[],
    build: (id: number, chunk: T[]) => WorkerRequest,
  ): Promise<WorkerResult[]> {
    const n = Math.min(this.workers.length, Math.ceil(items.length / 8));
    const size = Math.ceil(items.length / n);
    const parts: Promise<WorkerResult[]>[] = [];
    for (let i = 0; i < items.length; i += size) {
      const chunk = items.slice(i, i + size);
      parts.push(this.send((id) => build(id, chunk)));
    }
    return (await Promise.all(parts)).flat();
  }

  /** Opens invitations in the workers; each result is the invitation or its typed error. */
  async openInvitations(own: OwnKeys, envs: Envelope[]): Promise<(OpenedInvitation | InvitationError)[]> {
    const results = await this.spread(envs, (id, items) => ({ id, kind: "open", own, items }));
    return results.map((r) =>
      r.ok
        ? (r.value as OpenedInvitation)
        : new InvitationError(r.reason as InvitationErrorReason, r.message),
    );
  }

  /** Decodes V2 envelopes in the workers; each result is the message or its typed error. */
  async decodeV2(inputs: Omit<DecodeV2Input, "verified">[]): Promise<(DecodedV2 | MessageDecodeError)[]> {
    const results = await this.spread(inputs, (id, items) => ({ id, kind: "v2", items }));
    return results.map((r, i) =>
      r.ok
        ? (r.value as DecodedV2)
        : new MessageDecodeError(r.reason as MessageDecodeErrorReason, r.message, inputs[i]!.envelope),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let shared: CryptoPool | null | undefined;

/**
 * The pool when a batch of `batch` items, in an operation that has seen `seen` so far, is worth
 * handing to it: the batch has at least {@link POOL_MIN_ITEMS} and every worker is ready. An
 * operation past {@link POOL_START_ITEMS} starts the pool for the batches that follow. Undefined
 * otherwise (and where worker threads are unavailable): do the work on this thread.
 */
export function cryptoPoolFor(batch: number, seen: number): CryptoPool | undefined {
  const pool = seen >= POOL_START_ITEMS ? cryptoPool() : shared;
  return pool && batch >= POOL_MIN_ITEMS && pool.ready ? pool : undefined;
}

/** The process-wide pool, created on first use; undefined where worker threads are unavailable. */
export function cryptoPool(): CryptoPool | undefined {
  if (shared !== undefined) return shared ?? undefined;
  const workers = spawnWorkers(new URL("./crypto-worker.js", import.meta.url), "XMTP_CRYPTO_WORKERS", 8, 2);
  shared = workers ? new CryptoPool(workers as unknown as PoolWorker[]) : null;
  return shared ?? undefined;
}

/**
 * Starts the workers of a pool: `$envVar` of them when set (as an integer), else one per core but
 * one, up to `max`; none (undefined) below `min`, outside Node, or when `script` (a built file
 * next to the calling module) does not exist.
 */
export function spawnWorkers(
  script: URL,
  envVar: string,
  max: number,
  min: number,
  options?: { resourceLimits?: { maxYoungGenerationSizeMb?: number; maxOldGenerationSizeMb?: number } },
): unknown[] | undefined {
  try {
    if (!getBuiltin) return undefined;
    const wt = getBuiltin<typeof import("node:worker_threads")>("node:worker_threads");
    const os = getBuiltin<typeof import("node:os")>("node:os");
    const fs = getBuiltin<typeof import("node:fs")>("node:fs");
    const url = getBuiltin<typeof import("node:url")>("node:url");
    if (!wt || !os || !fs || !url) return undefined;
    if (script.protocol !== "file:" || !fs.existsSync(url.fileURLToPath(script))) return undefined;
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    const wanted = env?.[envVar] === undefined ? undefined : Number(env[envVar]);
    const n =
      wanted !== undefined && Number.isInteger(wanted)
        ? wanted
        : Math.min(max, os.availableParallelism() - 1);
    if (n < min) return undefined;
    return Array.from({ length: n }, () => new wt.Worker(script, options));
  } catch {
    return undefined;
  }
}
