import { Code, XmtpError } from "@xmtp-ts/protocol";
import { describe, expect, it, vi } from "vitest";
import { createRateLimiter, DEFAULT_DEF_LIMIT, DEFAULT_PUB_LIMIT, RateLimitError } from "./rate-limit.js";

function refused(fn: () => void): XmtpError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(XmtpError);
    expect((err as XmtpError).code).toBe(Code.ResourceExhausted);
    return err as XmtpError;
  }
  throw new Error("expected the limiter to refuse");
}

describe("rate limiter", () => {
  it("uses the reference limits by default and starts buckets full", () => {
    expect(DEFAULT_DEF_LIMIT).toEqual({ perMinute: 2000, max: 10_000 });
    expect(DEFAULT_PUB_LIMIT).toEqual({ perMinute: 200, max: 1000 });
    const ms = 0;
    const rl = createRateLimiter({ now: () => ms, janitorIntervalMs: 0 });
    rl.spend("PUB", "127.0.0.1", 1000);
    expect(refused(() => rl.spend("PUB", "127.0.0.1", 1)).message).toBe("1 exceeds rate limit R127.0.0.1PUB");
    rl.spend("DEF", "127.0.0.1", 10_000);
    expect(refused(() => rl.spend("DEF", "127.0.0.1", 1)).message).toBe("1 exceeds rate limit R127.0.0.1DEF");
  });

  it("refills fractionally, capped at the maximum", () => {
    let ms = 0;
    const rl = createRateLimiter({ pub: { perMinute: 60, max: 5 }, now: () => ms, janitorIntervalMs: 0 });
    rl.spend("PUB", "a", 5);
    refused(() => rl.spend("PUB", "a", 1));
    ms += 500; // half a token
    refused(() => rl.spend("PUB", "a", 1));
    ms += 500;
    rl.spend("PUB", "a", 1);
    ms += 3_600_000; // long pause: back to max, not beyond
    rl.spend("PUB", "a", 5);
    refused(() => rl.spend("PUB", "a", 1));
  });

  it("never locks out a client that calls steadily below the rate (the reference's refill bug)", () => {
    let ms = 0;
    const rl = createRateLimiter({ def: { perMinute: 120, max: 3 }, now: () => ms, janitorIntervalMs: 0 });
    // 1 call every 0.6 s = 100/min < 120/min, for ten minutes.
    for (let i = 0; i < 1000; i++) {
      rl.spend("DEF", "steady", 1);
      ms += 600;
    }
  });

  it("keys buckets by client and class; unknown clients share ip_unknown; priority buckets are larger", () => {
    const rl = createRateLimiter({
      pub: { perMinute: 1, max: 2 },
      priorityMultiplier: { def: 2, pub: 3 },
      now: () => 0,
      janitorIntervalMs: 0,
    });
    rl.spend("PUB", "a", 2);
    rl.spend("PUB", "b", 2);
    rl.spend("PUB", undefined, 2);
    expect(refused(() => rl.spend("PUB", "", 1)).message).toBe("1 exceeds rate limit Rip_unknownPUB");
    rl.spend("PUB", "a", 6, true);
    expect(refused(() => rl.spend("PUB", "a", 1, true)).message).toBe("1 exceeds rate limit PaPUB");
    expect(rl.size()).toBe(4);
  });

  it("a cost above the bucket size is always refused and takes nothing", () => {
    const rl = createRateLimiter({ pub: { perMinute: 1, max: 10 }, now: () => 0, janitorIntervalMs: 0 });
    const err = refused(() => rl.spend("PUB", "a", 11));
    expect(err.message).toBe("11 exceeds rate limit RaPUB");
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterSeconds).toBeUndefined();
    rl.spend("PUB", "a", 10);
  });

  it("a refusal says when the same call would pass", () => {
    let ms = 0;
    const rl = createRateLimiter({ pub: { perMinute: 60, max: 10 }, now: () => ms, janitorIntervalMs: 0 });
    rl.spend("PUB", "a", 10);
    const err = refused(() => rl.spend("PUB", "a", 3)) as RateLimitError;
    expect(err.retryAfterSeconds).toBe(3);
    ms += 2_500;
    expect((refused(() => rl.spend("PUB", "a", 3)) as RateLimitError).retryAfterSeconds).toBe(1);
    ms += 500;
    rl.spend("PUB", "a", 3);
  });

  it("sweeps idle buckets, and its janitor can be stopped", () => {
    vi.useFakeTimers();
    try {
      let ms = 0;
      const rl = createRateLimiter({ idleMs: 1000, now: () => ms, janitorIntervalMs: 5 });
      rl.spend("DEF", "a", 1);
      rl.spend("DEF", "b", 1);
      ms = 500;
      rl.spend("DEF", "b", 1);
      ms = 1200;
      rl.sweep();
      expect(rl.size()).toBe(1);
      ms = 5000;
      // The janitor runs on its own.
      vi.advanceTimersByTime(5);
      expect(rl.size()).toBe(0);
      rl.stop();
      rl.stop();
      expect(vi.getTimerCount()).toBe(0);
      rl.spend("DEF", "c", 1);
      ms = 100_000;
      vi.advanceTimersByTime(1000);
      expect(rl.size()).toBe(1); // no janitor any more
    } finally {
      vi.useRealTimers();
    }
  });
});
