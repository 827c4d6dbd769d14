/**
 * Self-healing subscriptions. Each connection is an NDJSON `subscribe` response; when it ends or
 * fails, the stream waits (exponential backoff), subscribes again and then backfills with queries
 * from the newest timestamp seen per topic (minus an overlap window), so the consumer misses
 * nothing. Envelopes already delivered are recognised by digest and skipped, so it sees no
 * duplicates either. Backfill runs after the new subscription is open, so nothing falls in between.
 */
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type Envelope, EnvelopeSchema, SortDirection } from "@xmtp-ts/proto";
import { Code, envelopeDigest } from "@xmtp-ts/protocol";
import type { ApiClient } from "./api-client.js";
import { backoff, sleep } from "./api-client.js";
import { ApiError, isRetryable } from "./errors.js";
import { readLines } from "./ndjson.js";
import type { SubscribeOptions, Subscription } from "./types.js";

export interface StreamConfig {
  maxLineBytes: number;
  overlapNs: bigint;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  onEnd(): void;
}

/** Digests remembered per topic before a prune of those outside the overlap window is tried. */
const PRUNE_AT = 256;

class TopicState {
  /** Newest timestamp seen (or the subscription start, before anything arrived). */
  newestNs: bigint;
  readonly seen = new Map<string, bigint>();
  #pruneAt = PRUNE_AT;
  constructor(sinceNs: bigint) {
    this.newestNs = sinceNs;
  }

  /** Records the envelope; false when it was delivered already. */
  admit(key: string, ts: bigint, overlapNs: bigint): boolean {
    if (this.seen.has(key)) return false;
    this.seen.set(key, ts);
    if (ts > this.newestNs) this.newestNs = ts;
    if (this.seen.size > this.#pruneAt) {
      // Only digests a backfill could return again (inside the window) need remembering.
      const floor = this.newestNs - overlapNs;
      for (const [k, t] of this.seen) if (t < floor) this.seen.delete(k);
      // Amortized: when most digests are recent, wait for the set to double before trying again.
      this.#pruneAt = Math.max(PRUNE_AT, this.seen.size * 2);
    }
    return true;
  }
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += (x < 16 ? "0" : "") + x.toString(16);
  return s;
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

export function openSubscription(
  api: ApiClient,
  initialTopics: string[],
  opts: SubscribeOptions,
  cfg: StreamConfig,
): Subscription {
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  let topics = [...new Set(initialTopics)];
  const state = new Map<string, TopicState>();
  const startNs = nowNs();
  for (const t of topics) state.set(t, new TopicState(startNs));
  let connection: AbortController | undefined;
  let resolveReady!: () => void;
  let rejectReady!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined);
  signal.addEventListener("abort", () => rejectReady(new ApiError(Code.Canceled, "subscription closed")), {
    once: true,
  });

  const admit = (env: Envelope): boolean => {
    const st = state.get(env.contentTopic);
    if (!st) return false; // not (or no longer) subscribed
    return st.admit(hex(envelopeDigest(env.contentTopic, env.message)), env.timestampNs, cfg.overlapNs);
  };

  async function* backfill(): AsyncGenerator<Envelope> {
    const reqs = topics.map((t) => {
      const st = state.get(t) as TopicState;
      const from = st.newestNs > cfg.overlapNs ? st.newestNs - cfg.overlapNs : 0n;
      return {
        contentTopics: [t],
        startTimeNs: from,
        pagingInfo: { limit: 100, direction: SortDirection.ASCENDING },
      };
    });
    if (reqs.length === 0) return;
    const firsts = await api.batchQuery(reqs, signal);
    for (let i = 0; i < reqs.length; i++) {
      const res = firsts[i];
      const req = reqs[i];
      if (!res || !req) continue;
      for (const env of res.envelopes) if (admit(env)) yield env;
      const cursor = res.pagingInfo?.cursor;
      if (res.envelopes.length === 0 || !cursor || cursor.cursor.case === undefined) continue;
      // A topic with more than one page: continue it with the paging iterator.
      const last = res.envelopes[res.envelopes.length - 1] as Envelope;
      for await (const page of api.queryIteratePages(req.contentTopics, {
        startTime: last.timestampNs,
        direction: SortDirection.ASCENDING,
        signal,
      })) {
        for (const env of page) if (admit(env)) yield env;
      }
    }
  }

  let everConnected = false;
  /** Set when the heartbeat watchdog dropped the connection (reported, then reconnected at once). */
  let silentDrop = false;
  /** Only a rejected subscribe request (4xx other than 429) is final; everything else reconnects. */
  const isFatal = (err: unknown) => err instanceof ApiError && err.status !== undefined && !isRetryable(err);

  type Opened = Awaited<ReturnType<ApiClient["openStream"]>>;
  const connect = (): Promise<Opened> => {
    connection = new AbortController();
    return api.openStream(topics, AbortSignal.any([signal, connection.signal]));
  };
  // The first connection opens at once (not on the first `next()`), so `ready` means "live".
  let preopened: Promise<Opened> | undefined = connect();
  preopened.then(
    () => resolveReady(),
    (err: unknown) => {
      if (isFatal(err)) rejectReady(err);
    },
  );

  async function* connectionOnce(): AsyncGenerator<Envelope> {
    const opening = preopened ?? connect();
    preopened = undefined;
    const { body, heartbeatMs } = await opening;
    const reconnected = everConnected;
    everConnected = true;
    resolveReady();
    if (reconnected) {
      opts.onReconnect?.();
      yield* backfill();
    }
    // With heartbeats granted, three silent intervals mean a dead connection (a peer that vanished
    // without closing, a NAT that forgot us): drop it, and the loop reconnects and backfills.
    const conn = connection;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      if (heartbeatMs === undefined) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        silentDrop = true;
        conn?.abort();
      }, 3 * heartbeatMs);
    };
    arm();
    try {
      for await (const line of readLines(body, cfg.maxLineBytes)) {
        // Paused while the consumer holds an envelope: only the network's silence counts.
        clearTimeout(watchdog);
        yield* lineEnvelopes(line);
        arm();
      }
    } catch (err) {
      if (silentDrop)
        throw new ApiError(Code.Unavailable, "subscription silent for three heartbeat intervals");
      throw err;
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** The envelope of one NDJSON line, if it is new; throws on a malformed or error line. */
  function* lineEnvelopes(line: string): Generator<Envelope> {
    if (line.trim() === "") return; // keep-alive whitespace
    let msg: { result?: JsonValue; error?: { code?: number; message?: string } };
    try {
      msg = JSON.parse(line);
    } catch (err) {
      throw new ApiError(Code.DataLoss, `malformed subscription line: ${line.slice(0, 80)}`, undefined, {
        cause: err,
      });
    }
    if (msg && typeof msg === "object" && msg.result !== undefined) {
      let env: Envelope;
      try {
        env = fromJson(EnvelopeSchema, msg.result, { ignoreUnknownFields: true });
      } catch (err) {
        throw new ApiError(Code.DataLoss, "malformed envelope on subscription", undefined, { cause: err });
      }
      if (admit(env)) yield env;
    } else if (msg && typeof msg === "object" && msg.error) {
      const code = typeof msg.error.code === "number" ? msg.error.code : Code.Unavailable;
      // Stream errors (e.g. buffer overflow) mean "resubscribe and backfill".
      throw new ApiError(Code.Unavailable, `subscription error ${code}: ${msg.error.message ?? ""}`);
    }
    // Any other object (e.g. a heartbeat) is ignored.
  }

  async function* run(): AsyncGenerator<Envelope> {
    let attempt = 0;
    try {
      while (!signal.aborted) {
        try {
          for await (const env of connectionOnce()) {
            attempt = 0;
            yield env;
          }
          if (signal.aborted) return;
          opts.onConnectionLost?.(new ApiError(Code.Unavailable, "subscription closed by the server"));
        } catch (err) {
          if (signal.aborted) return;
          if (silentDrop) {
            silentDrop = false;
            opts.onConnectionLost?.(err);
            continue;
          }
          if (connection?.signal.aborted) continue; // updateTopics: reconnect at once
          if (isFatal(err)) {
            rejectReady(err);
            throw err;
          }
          opts.onConnectionLost?.(err);
        }
        await sleep(backoff(attempt++, cfg.retryDelayMs, cfg.maxRetryDelayMs), signal);
      }
    } finally {
      preopened?.then((o) => o.body.cancel()).catch(() => undefined);
      if (!everConnected) rejectReady(new ApiError(Code.Canceled, "subscription ended before it connected"));
      connection?.abort();
      stop.abort();
      cfg.onEnd();
    }
  }

  const gen = run();
  const sub: Subscription = {
    ready,
    next: () => gen.next(),
    return: async (value?: unknown) => {
      stop.abort();
      return gen.return(value as undefined);
    },
    throw: (e?: unknown) => gen.throw(e),
    [Symbol.asyncIterator]() {
      return this;
    },
    updateTopics(next: string[]) {
      topics = [...new Set(next)];
      const now = nowNs();
      for (const t of topics) if (!state.has(t)) state.set(t, new TopicState(now));
      for (const t of [...state.keys()]) if (!topics.includes(t)) state.delete(t);
      connection?.abort();
    },
    close() {
      stop.abort();
    },
  };
  return sub;
}
