import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { startCleaner } from "./cleaner.js";
import { createSqliteStore } from "./sqlite.js";
import { makeEnvelope } from "./store.compliance.js";

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

  it("a failing store only logs; stop() waits for a run in progress", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    await store.start();
    const cleaner = startCleaner({
      store,
      retentionMs: MINUTE,
      intervalMs: 5,
      logger: createLogger("silent"),
    });
    await store.stop();
    await new Promise((r) => setTimeout(r, 30));
    await expect(cleaner.runOnce()).rejects.toThrow();
    await cleaner.stop();
  });
});
