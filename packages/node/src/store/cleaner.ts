/**
 * Retention (protocol.md §3.6), off unless configured: rows that may expire (topics outside
 * `/xmtp/`) are deleted once they were received longer ago than the retention period, in bounded
 * batches so a large backlog never holds the store for long. Rows under `/xmtp/` are never
 * deleted. Unlike the reference, a tick deletes whatever is due, not only once a full batch is.
 */
import type { Registry } from "prom-client";
import { Counter } from "prom-client";
import type { Logger } from "../logger.js";
import type { Store } from "./types.js";

export interface CleanerOptions {
  store: Store;
  /** Rows received longer ago than this are deleted. */
  retentionMs: number;
  /** Time between runs (default 1 minute). */
  intervalMs?: number;
  /** Rows per delete statement (default 50,000, the reference's batch). */
  batchSize?: number;
  /** Statements per run at most (default 20); the rest waits for the next run. */
  maxBatchesPerRun?: number;
  logger: Logger;
  /** Gains `xmtp_store_expired_deleted_total`. */
  registry?: Registry;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

export interface Cleaner {
  /** One run now: deletes what is due (bounded); resolves with the rows deleted. */
  runOnce(): Promise<number>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** Starts the periodic cleaner (its timer never keeps the process alive). */
export function startCleaner(opts: CleanerOptions): Cleaner {
  const intervalMs = opts.intervalMs ?? 60_000;
  const batch = opts.batchSize ?? 50_000;
  const maxBatches = opts.maxBatchesPerRun ?? 20;
  const now = opts.now ?? Date.now;
  const log = opts.logger.child({ component: "cleaner" });
  const deleted = opts.registry
    ? new Counter({
        name: "xmtp_store_expired_deleted_total",
        help: "Envelopes on topics outside /xmtp/ deleted by retention",
        registers: [opts.registry],
      })
    : undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  const run = async (): Promise<number> => {
    const cutoffNs = BigInt(now() - opts.retentionMs) * 1_000_000n;
    let total = 0;
    for (let i = 0; i < maxBatches && !stopped; i++) {
      const n = await opts.store.deleteExpired(cutoffNs, batch);
      total += n;
      deleted?.inc(n);
      if (n < batch) break;
    }
    if (total > 0) log.info({ deleted: total }, "expired envelopes deleted");
    return total;
  };

  const runOnce = (): Promise<number> => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => {
    runOnce().catch((err: unknown) => log.warn({ err: (err as Error).message }, "retention run failed"));
  }, intervalMs);
  timer.unref();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
