/**
 * Per-client token buckets (protocol.md §4.6) with a real fractional refill (§18 row 1): a bucket
 * gains `rate × elapsed / 60 s` tokens, capped at its maximum, so a client that calls steadily
 * below the rate is never locked out.
 */
import { Code } from "@xmtp-ts/protocol";
import { DetailedError } from "./errors.js";

/** `PUB` for Publish (cost = envelopes), `DEF` for everything else. */
export type LimitType = "PUB" | "DEF";

export interface BucketLimit {
  /** Tokens added per minute. */
  perMinute: number;
  /** Bucket capacity; new buckets start full. */
  max: number;
}

export interface RateLimiterOptions {
  /** Default: 2000/min, max 10000. */
  def?: BucketLimit | undefined;
  /** Default: 200/min, max 1000. */
  pub?: BucketLimit | undefined;
  /** Multipliers applied to rate and max of priority buckets. Default: DEF ×5, PUB ×25. */
  priorityMultiplier?: { def: number; pub: number } | undefined;
  /** How often idle buckets are swept; default 10 minutes. 0 disables the janitor. */
  janitorIntervalMs?: number | undefined;
  /** Buckets untouched this long are dropped by the janitor; default 1 hour. */
  idleMs?: number | undefined;
  /** Clock in milliseconds; default `Date.now`. */
  now?: (() => number) | undefined;
}

export interface RateLimiter {
  /**
   * Takes `cost` tokens from the caller's bucket or throws XmtpError(ResourceExhausted,
   * "<cost> exceeds rate limit <bucket>"). `client` is the client IP (or any stable key).
   */
  spend(type: LimitType, client: string | undefined, cost: number, priority?: boolean): void;
  /** Drops buckets idle longer than `idleMs`; the janitor calls this periodically. */
  sweep(): void;
  /** Number of live buckets. */
  size(): number;
  /** Stops the janitor; the limiter keeps working. Idempotent. */
  stop(): void;
}

/** A spend refused by the limiter; `retryAfterSeconds` is when it would pass, if it ever can. */
export class RateLimitError extends DetailedError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number | undefined,
    bucket: { name: string; max: number },
  ) {
    super(Code.ResourceExhausted, message, { retryAfterSeconds, limit: bucket });
  }
}

export const DEFAULT_DEF_LIMIT: BucketLimit = { perMinute: 2000, max: 10_000 };
export const DEFAULT_PUB_LIMIT: BucketLimit = { perMinute: 200, max: 1000 };
const UNKNOWN_CLIENT = "ip_unknown";
const MINUTE_MS = 60_000;

interface Bucket {
  tokens: number;
  last: number;
}

/** Creates a limiter; its janitor timer is unref'd so it never keeps the process alive. */
export function createRateLimiter(opts: RateLimiterOptions = {}): RateLimiter {
  const now = opts.now ?? Date.now;
  const mult = opts.priorityMultiplier ?? { def: 5, pub: 25 };
  const def = opts.def ?? DEFAULT_DEF_LIMIT;
  const pub = opts.pub ?? DEFAULT_PUB_LIMIT;
  const limits: Record<string, BucketLimit> = {
    RDEF: def,
    RPUB: pub,
    PDEF: { perMinute: def.perMinute * mult.def, max: def.max * mult.def },
    PPUB: { perMinute: pub.perMinute * mult.pub, max: pub.max * mult.pub },
  };
  const idleMs = opts.idleMs ?? 3_600_000;
  const buckets = new Map<string, Bucket>();

  const sweep = () => {
    const cutoff = now() - idleMs;
    for (const [id, b] of buckets) if (b.last < cutoff) buckets.delete(id);
  };

  const interval = opts.janitorIntervalMs ?? 600_000;
  let timer: ReturnType<typeof setInterval> | undefined;
  if (interval > 0) {
    timer = setInterval(sweep, interval);
    timer.unref?.();
  }

  return {
    spend(type, client, cost, priority = false) {
      const cls = priority ? "P" : "R";
      const limit = limits[cls + type] as BucketLimit;
      const id = `${cls}${client || UNKNOWN_CLIENT}${type}`;
      const t = now();
      let b = buckets.get(id);
      if (b === undefined) {
        b = { tokens: limit.max, last: t };
        buckets.set(id, b);
      } else if (t > b.last) {
        b.tokens = Math.min(limit.max, b.tokens + (limit.perMinute * (t - b.last)) / MINUTE_MS);
        b.last = t;
      }
      if (cost > b.tokens) {
        // A cost above the bucket's capacity never passes: no retry time to offer.
        const wait =
          cost > limit.max ? undefined : Math.ceil(((cost - b.tokens) * MINUTE_MS) / limit.perMinute / 1000);
        throw new RateLimitError(`${cost} exceeds rate limit ${id}`, wait, {
          name: `${cls}${type}`,
          max: limit.max,
        });
      }
      b.tokens -= cost;
    },
    sweep,
    size: () => buckets.size,
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
