import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import { createLogger } from "../logger.js";
import { startCleaner } from "./cleaner.js";
import { createSqliteStore } from "./sqlite.js";
import { makeEnvelope } from "./store.compliance.js";
import type { Store } from "./types.js";

const MINUTE = 60_000;

describe("retention cleaner", () => {
  it("deletes expiring rows older than the retention, in bounded batches across runs; /xmtp/ rows stay", async () => {
    let nowMs = 1_700_000_000_000;
    const store = createSqliteStore({ path: ":memory:", now: () => BigInt(nowMs) * 1_000_000n });
    await store.start();
    const registry = new Registry();
    const cleaner = startCleaner({
      store,
      retentionMs: 60 * MINUTE,
      intervalMs: 3_600_000,
      batchSize: 3,
      maxBatchesPerRun: 2,
      logger: createLogger("silent"),
      registry,
      now: () => nowMs,
    });
    try {
      const old = Array.from({ length: 8 }, (_, i) => makeEnvelope(`/custom/old-${i}`, BigInt(i + 1)));
      await store.insert([...old, makeEnvelope("/xmtp/0/m-keep/proto", 100n)]);
      nowMs += 30 * MINUTE;
      await store.insert([makeEnvelope("/custom/young", 200n)]);
      expect(await cleaner.runOnce()).toBe(0); // nothing is an hour old yet
      nowMs += 31 * MINUTE;
      // 8 due, 3 per statement, 2 statements per run: 6 now, 2 on the next run.
      expect(await cleaner.runOnce()).toBe(6);
      expect(await cleaner.runOnce()).toBe(2);
      expect(await cleaner.runOnce()).toBe(0);
      expect(await store.count()).toBe(2);
      nowMs += 10 * 365 * 24 * 60 * MINUTE;
      expect(await cleaner.runOnce()).toBe(1);
      const left = await store.scan({ direction: "asc", limit: 10 });
      expect(left.map((e) => e.contentTopic)).toEqual(["/xmtp/0/m-keep/proto"]);
      expect(await registry.metrics()).toMatch(/^xmtp_store_expired_deleted_total 9$/m);
    } finally {
      await cleaner.stop();
      await store.stop();
    }
  });

  it("a failing run is logged and the timer keeps running", async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const store = createSqliteStore({ path: ":memory:" });
    await store.start();
    await store.stop(); // every delete now fails
    const cleaner = startCleaner({ store, retentionMs: MINUTE, intervalMs: 1000, logger });
    try {
      await vi.advanceTimersByTimeAsync(1000);
      await vi.advanceTimersByTimeAsync(1000);
      const failures = lines.map((l) => JSON.parse(l) as { msg: string; err: string });
      expect(failures).toHaveLength(2);
      expect(failures[0]).toMatchObject({ msg: "retention run failed", err: "store is stopped" });
    } finally {
      await cleaner.stop();
      vi.useRealTimers();
    }
  });

  it("stop() waits for a run in progress, and no run starts after it", async () => {
    const store = createSqliteStore({ path: ":memory:", now: () => 1n });
    await store.start();
    await store.insert([makeEnvelope("/custom/due", 1n)]);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    const gated: Store = {
      ...store,
      async deleteExpired(before, limit) {
        calls++;
        await gate;
        return store.deleteExpired(before, limit);
      },
    };
    const cleaner = startCleaner({
      store: gated,
      retentionMs: 0,
      logger: createLogger("silent"),
      now: () => 10,
    });
    const run = cleaner.runOnce();
    let stopped = false;
    const stopping = cleaner.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await run).toBe(1);
    expect(calls).toBe(1);
    await store.stop();
  });
});
