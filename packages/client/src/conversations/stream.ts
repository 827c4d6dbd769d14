/**
 * A self-healing stream over the transport: envelopes in arrival order, decoded one at a time;
 * when the subscription ends it resubscribes and backfills from the last envelope seen, skipping
 * envelopes already delivered. Conversations, `streamAllMessages` and the consent list use it.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Envelope } from "@xmtp-ts/proto";
import { Code } from "@xmtp-ts/protocol";
import { ApiError } from "../api/errors.js";
import { liveSubscription } from "../api/query.js";
import type { ConnectionHooks, NetworkApi } from "../api/types.js";
import { clientClosed } from "../errors.js";
import { abortableQueue } from "./async-queue.js";
import { sha256 } from "./primitives.js";

/** Options of every stream. */
export interface StreamOptions<E = unknown> extends ConnectionHooks {
  /** Ends the stream (the iterator finishes without an error). */
  signal?: AbortSignal;
  /** Receives each envelope that was skipped, with the reason; the stream goes on. */
  onError?: (err: E) => void;
}

/** xmtp-js passes a connection-lost callback where this SDK takes options; both are accepted. */
export type StreamOptionsOrCallback<E = unknown> = StreamOptions<E> | ((err: unknown) => void);

/** The options form of {@link StreamOptionsOrCallback}. */
export function streamOptions<E>(o: StreamOptionsOrCallback<E> | undefined): StreamOptions<E> {
  return typeof o === "function" ? { onConnectionLost: o } : (o ?? {});
}

/**
 * What ends a stream: the caller's signal, or the transport closing. A stream asked of a closed
 * transport is refused ("client-closed").
 */
export function endSignal(
  transport: Pick<NetworkApi, "closed">,
  signal: AbortSignal | undefined,
): AbortSignal | undefined {
  if (transport.closed?.aborted) throw clientClosed();
  const ends = [signal, transport.closed].filter((s): s is AbortSignal => s !== undefined);
  return ends.length > 1 ? AbortSignal.any(ends) : ends[0];
}

/** Streams remember this many delivered envelopes to skip repeats after a resubscribe. */
export const STREAM_DEDUPE_WINDOW = 10_000;
/** Backfill after a dropped subscription starts this far before the last envelope seen. */
export const STREAM_BACKFILL_MARGIN_NS = 60n * 1_000_000_000n;
/** Consecutive failed resubscribes before a stream ends with an error. */
export const STREAM_MAX_RETRIES = 8;

/**
 * Items decoded from the envelopes on `topics`. `decode` returns undefined to skip an envelope;
 * what it throws goes to `onFailure` (the stream goes on).
 */
export async function streamEnvelopes<T>(
  transport: Pick<NetworkApi, "closed" | "queryPages" | "subscribe">,
  topics: string[],
  decode: (env: Envelope) => Promise<T | undefined>,
  opts: StreamOptions<never> & { onFailure?: (err: unknown, env: Envelope) => void } = {},
): Promise<AsyncIterableIterator<T>> {
  const { queue, abort } = abortableQueue<T>(endSignal(transport, opts.signal));
  if (queue.isClosed) return queue;
  const hooks: ConnectionHooks = { onConnectionLost: opts.onConnectionLost, onReconnect: opts.onReconnect };
  let source: AsyncIterable<Envelope> = await liveSubscription(transport, topics, {
    signal: abort,
    ...hooks,
  });
  let lastNs = BigInt(Date.now()) * 1_000_000n;
  const seen = new Set<string>();
  const handle = async (env: Envelope) => {
    const k = `${env.contentTopic}:${env.timestampNs}:${bytesToHex(sha256(env.message))}`;
    if (seen.has(k)) return;
    if (seen.size >= STREAM_DEDUPE_WINDOW) seen.clear();
    seen.add(k);
    if (env.timestampNs > lastNs) lastNs = env.timestampNs;
    try {
      const m = await decode(env);
      if (m !== undefined) queue.push(m);
    } catch (err) {
      opts.onFailure?.(err, env);
    }
  };
  // Decode in arrival order, one at a time, so the stream keeps the network order. When the
  // subscription ends, resubscribe and backfill from the last envelope seen (minus a margin for
  // skewed senders), skipping envelopes already delivered.
  (async () => {
    let live = true; // `source` is a real subscription (not the placeholder after a failed retry)
    for (let attempt = 0; ; attempt++) {
      let lost: unknown = new ApiError(Code.Unavailable, "subscription ended");
      try {
        for await (const env of source) {
          if (queue.isClosed) return;
          attempt = 0;
          await handle(env);
        }
      } catch (err) {
        if (abort.aborted) return;
        if (attempt >= STREAM_MAX_RETRIES) {
          queue.end(err);
          return;
        }
        lost = err;
      }
      if (queue.isClosed || abort.aborted) return;
      if (live) hooks.onConnectionLost?.(lost);
      live = false;
      if (attempt >= STREAM_MAX_RETRIES) {
        queue.end(new ApiError(Code.Unavailable, "subscription ended and could not be re-established"));
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      if (abort.aborted) return;
      try {
        source = await liveSubscription(transport, topics, { signal: abort, ...hooks });
        live = true;
        hooks.onReconnect?.();
        const since = lastNs > STREAM_BACKFILL_MARGIN_NS ? lastNs - STREAM_BACKFILL_MARGIN_NS : 1n;
        for (const topic of topics) {
          for await (const page of transport.queryPages(topic, { startTime: since })) {
            for (const env of page) await handle(env);
          }
        }
      } catch {
        // retried on the next turn
        source = (async function* () {})();
      }
    }
  })();
  return queue;
}
