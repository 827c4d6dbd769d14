/**
 * Self-healing subscriptions, the same over every transport. Each connection is one subscribe call
 * of the transport (an NDJSON response, a Connect or gRPC-Web stream, a gRPC Subscribe2 call);
 * when it ends or fails, the stream waits (exponential backoff), subscribes again and then backfills with queries
 * from the newest timestamp seen per topic (minus an overlap window), so the consumer misses
 * nothing. Envelopes already delivered are recognised by digest and skipped, so it sees no
 * duplicates either. Backfill runs after the new subscription is open, so nothing falls in between.
 */
import { type Envelope, SortDirection } from "@xmtp-ts/proto";
import { Code, envelopeDigest } from "@xmtp-ts/protocol";
import type { ApiClient } from "./api-client.js";
import { backoff, sleep } from "./api-client.js";
import { ApiError, isFatal } from "./errors.js";
import type { SubscribeOptions, Subscription, TransportStream } from "./types.js";

export interface StreamConfig {
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

  async function* backfill(of: string[] = topics): AsyncGenerator<Envelope> {
    const reqs = of.flatMap((t) => {
      const st = state.get(t);
      if (!st) return [];
      const from = st.newestNs > cfg.overlapNs ? st.newestNs - cfg.overlapNs : 0n;
      return [
        {
          contentTopics: [t],
          startTimeNs: from,
          pagingInfo: { limit: 100, direction: SortDirection.ASCENDING },
        },
      ];
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
      for await (const page of api.queryPages(req.contentTopics, {
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
  /** Set when `updateTopics` re-opens the connection (not a loss: no hooks are called). */
  let reopening = false;
  /** The open call, when it takes topic updates itself (gRPC Subscribe2). */
  let live: TransportStream | undefined;
  /** Topics added on the open call, to backfill from when they were added (read after the update was sent). */
  const added: string[][] = [];
  let wake: (() => void) | undefined;
  /** The call was open when it failed: whatever ended it (a reset, the node's unread budget) means "resubscribe". */
  let wasOpen = false;

  type Opened = TransportStream;
  /** Aborted when the current call must end (the subscription's end, a topic change, the watchdog). */
  let callSignal: AbortSignal = signal;
  const connect = (): Promise<Opened> => {
    connection = new AbortController();
    live = undefined;
    wasOpen = false;
    added.length = 0; // a new call backfills every topic anyway
    callSignal = AbortSignal.any([signal, connection.signal]);
    return api.openStream(topics, callSignal);
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
    const opened = await opening;
    const { events, heartbeatMs } = opened;
    wasOpen = true;
    if (opened.setTopics) live = opened;
    const quiet = reopening;
    reopening = false;
    const reconnected = everConnected;
    everConnected = true;
    resolveReady();
    if (reconnected) {
      if (!quiet) opts.onReconnect?.();
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
    const it = events[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<Envelope | undefined>> | undefined;
    // A call ended by us is left at once: some fetch-based readers never settle a read after an abort.
    const ended = callSignal;
    const dropped = new Promise<"dropped">((resolve) => {
      if (ended.aborted) resolve("dropped");
      else ended.addEventListener("abort", () => resolve("dropped"), { once: true });
    });
    try {
      for (;;) {
        const job = added.shift();
        if (job) {
          clearTimeout(watchdog);
          yield* backfill(job);
          arm();
          continue;
        }
        pending ??= it.next();
        const woken = new Promise<"wake">((resolve) => {
          wake = () => resolve("wake");
        });
        const r = await Promise.race([pending, woken, dropped]);
        wake = undefined;
        if (r === "wake") continue;
        if (r === "dropped") throw new ApiError(Code.Canceled, "subscription call ended");
        pending = undefined;
        if (r.done) break;
        // Paused while the consumer holds an envelope: only the network's silence counts.
        clearTimeout(watchdog);
        if (r.value !== undefined && admit(r.value)) yield r.value;
        arm();
      }
    } catch (err) {
      if (silentDrop)
        throw new ApiError(Code.Unavailable, "subscription silent for three heartbeat intervals");
      throw err;
    } finally {
      clearTimeout(watchdog);
      pending?.catch(() => undefined);
      void it.return?.()?.catch(() => undefined);
    }
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
          if (reopening && connection?.signal.aborted) continue; // updateTopics: reconnect at once
          if (!wasOpen && isFatal(err)) {
            rejectReady(err);
            throw err;
          }
          opts.onConnectionLost?.(err);
        }
        await sleep(backoff(attempt++, cfg.retryDelayMs, cfg.maxRetryDelayMs), signal);
      }
    } finally {
      preopened?.catch(() => undefined);
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
      const fresh = topics.filter((t) => !state.has(t));
      for (const t of fresh) state.set(t, new TopicState(now));
      for (const t of [...state.keys()]) if (!topics.includes(t)) state.delete(t);
      if (live?.setTopics) {
        // The same call takes the new set (gRPC Subscribe2); the new topics are then read back from
        // when they were added, by a query sent after the update on the same connection.
        live.setTopics(topics);
        if (fresh.length > 0) {
          added.push(fresh);
          wake?.();
        }
        return;
      }
      reopening = true;
      connection?.abort();
    },
    close() {
      stop.abort();
    },
  };
  return sub;
}
