/**
 * In-node fan-out. Subscriptions are indexed by topic, so publishing costs one map lookup plus one
 * push per subscriber of that topic (and per subscribe-all subscriber for `/xmtp/0/` topics),
 * independent of how many unrelated subscriptions exist.
 *
 * Every subscriber gets the same envelope object (the transports cache its encoding per object, so
 * it is serialised once per wire format, not once per subscriber). Handing an envelope to a waiting
 * stream makes that stream write it at once, which for a large envelope and thousands of streams is
 * seconds of work; so deliveries are spent from a budget of bytes per event-loop turn
 * ({@link DEFAULT_TURN_BYTES}) and the rest continues on the next turn (`setImmediate`), in
 * publish order, leaving room for other requests (`/healthz`) in between.
 */
import type { Envelope } from "@xmtp-ts/proto";
import { Code, TOPIC_PREFIX, XmtpError } from "@xmtp-ts/protocol";
import type { Subscription } from "../api/types.js";
import type { Dispatcher, DispatcherOptions } from "./types.js";

/** Buffer sizes the reference uses (protocol.md §2.10). */
export const DEFAULT_BUFFER_SIZE = 1024;
export const DEFAULT_ALL_BUFFER_SIZE = 4096;
/**
 * Our byte budget on top of the reference's counts: 1024 envelopes of 1 MB would otherwise let one
 * slow reader pin a gigabyte. 16 MiB is thousands of ordinary messages.
 */
export const DEFAULT_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * Bytes of envelopes (message and topic, plus {@link DELIVERY_COST} each) handed to subscribers per
 * event-loop turn before the rest of a fan-out yields. A turn of 8 MiB is a few tens of ms of
 * stream writes; ordinary messages (a few KB) reach well over a thousand subscribers per turn.
 */
export const DEFAULT_TURN_BYTES = 8 * 1024 * 1024;
/** What one delivery costs the turn budget beyond the envelope's bytes (bookkeeping, a write call). */
const DELIVERY_COST = 512;

/** The message a slow subscriber's stream ends with (protocol.md §18 row 9). */
export const OVERFLOW_MESSAGE = "subscription buffer overflow, resubscribe and backfill";

export interface CreateDispatcherOptions extends Partial<DispatcherOptions> {
  /** Called once per subscription ended by overflow (for metrics). */
  onOverflow?: ((sub: { all: boolean; topics: number }) => void) | undefined;
  /** Delivery budget per event-loop turn, in bytes (default {@link DEFAULT_TURN_BYTES}). */
  turnBytes?: number | undefined;
}

/** One envelope on its way to the subscribers it had when it was published. */
interface Fanout {
  env: Envelope;
  subs: Sub[];
  next: number;
  cost: number;
}

/** Consumed slots at the front of a queue that trigger compaction. */
const COMPACT_AT = 1024;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** Creates an empty dispatcher. */
export function createDispatcher(opts: CreateDispatcherOptions = {}): Dispatcher {
  const bufferSize = positive(opts.bufferSize ?? DEFAULT_BUFFER_SIZE, "bufferSize");
  const allBufferSize = positive(opts.allBufferSize ?? DEFAULT_ALL_BUFFER_SIZE, "allBufferSize");
  const bufferBytes = positive(opts.bufferBytes ?? DEFAULT_BUFFER_BYTES, "bufferBytes");
  const turnBytes = positive(opts.turnBytes ?? DEFAULT_TURN_BYTES, "turnBytes");
  const byTopic = new Map<string, Set<Sub>>();
  const all = new Set<Sub>();
  const open = new Set<Sub>();
  let overflows = 0;
  let delivered = 0;
  /** Fan-outs not finished yet, oldest first; `backlogHead` is the first unfinished one. */
  let backlog: Fanout[] = [];
  let backlogHead = 0;
  let resumeScheduled = false;

  /**
   * Delivers from the backlog until it is empty or this turn's budget is spent, then resumes on
   * the next turn. Fan-outs finish in publish order, so every subscriber sees publish order.
   */
  const drain = () => {
    let budget = turnBytes;
    while (backlogHead < backlog.length) {
      const job = backlog[backlogHead] as Fanout;
      while (job.next < job.subs.length) {
        if (budget <= 0) {
          if (!resumeScheduled) {
            resumeScheduled = true;
            setImmediate(resume);
          }
          return;
        }
        const sub = job.subs[job.next++] as Sub;
        // A subscriber that left or changed its topics since the publish is skipped.
        if (sub.wants(job.env.contentTopic)) sub.push(job.env);
        budget -= job.cost;
      }
      backlog[backlogHead++] = undefined as unknown as Fanout;
    }
    backlog = [];
    backlogHead = 0;
  };
  const resume = () => {
    resumeScheduled = false;
    drain();
  };

  const index = (sub: Sub, topic: string) => {
    let set = byTopic.get(topic);
    if (set === undefined) {
      set = new Set();
      byTopic.set(topic, set);
    }
    set.add(sub);
  };
  const unindex = (sub: Sub, topic: string) => {
    const set = byTopic.get(topic);
    if (set === undefined) return;
    set.delete(sub);
    if (set.size === 0) byTopic.delete(topic);
  };

  const hooks: SubHooks = {
    /** Moves a subscription between the topic index and the subscribe-all list. */
    retarget(sub, next) {
      const prev = sub.topics;
      if (prev === "all") {
        if (next !== "all") all.delete(sub);
      } else {
        for (const t of prev) if (next === "all" || !next.has(t)) unindex(sub, t);
      }
      if (next === "all") {
        if (prev !== "all") all.add(sub);
      } else {
        for (const t of next) if (prev === "all" || !prev.has(t)) index(sub, t);
      }
      sub.topics = next;
      sub.limit = next === "all" ? allBufferSize : bufferSize;
    },
    remove(sub, overflowed) {
      if (!open.delete(sub)) return;
      if (sub.topics === "all") all.delete(sub);
      else for (const t of sub.topics) unindex(sub, t);
      if (overflowed) {
        overflows++;
        try {
          opts.onOverflow?.({
            all: sub.topics === "all",
            topics: sub.topics === "all" ? 0 : sub.topics.size,
          });
        } catch {
          // A metrics hook must never break delivery to the other subscribers.
        }
      }
    },
  };

  return {
    publish(envelope) {
      const set = byTopic.get(envelope.contentTopic);
      const toAll = all.size > 0 && envelope.contentTopic.startsWith(TOPIC_PREFIX);
      const n = (set?.size ?? 0) + (toAll ? all.size : 0);
      if (n === 0) return;
      delivered += n;
      const subs: Sub[] = set === undefined ? [] : [...set];
      if (toAll) for (const sub of all) subs.push(sub);
      backlog.push({ env: envelope, subs, next: 0, cost: sizeOf(envelope) + DELIVERY_COST });
      // With a backlog, the scheduled turn carries on; otherwise this turn starts delivering.
      if (backlog.length - backlogHead === 1 && !resumeScheduled) drain();
    },
    subscribe(topics, subOpts) {
      const sub = new Sub(hooks, bufferBytes, subOpts?.onEnd);
      open.add(sub);
      hooks.retarget(sub, toTopicSet(topics));
      const signal = subOpts?.signal;
      if (signal !== undefined) sub.watch(signal);
      return sub;
    },
    stats() {
      return { subscriptions: open.size, topics: byTopic.size, overflows, delivered };
    },
    closeAll() {
      for (const sub of [...open]) sub.close();
    },
  };
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`"${name}" expected a positive integer, got ${n}`);
  return n;
}

/** `"all"` or a list containing `"*"` subscribe to everything under `/xmtp/0/` (protocol.md §1.4). */
function toTopicSet(topics: readonly string[] | "all"): Set<string> | "all" {
  if (topics === "all" || topics.includes("*")) return "all";
  return new Set(topics);
}

/** What an envelope costs a subscription's buffer (UTF-16 topic length is close enough). */
function sizeOf(env: Envelope): number {
  return env.message.length + env.contentTopic.length;
}

interface SubHooks {
  retarget(sub: Sub, next: Set<string> | "all"): void;
  remove(sub: Sub, overflowed: boolean): void;
}

/**
 * One subscription: a FIFO queue (array + head index, reset when drained so steady state does not
 * allocate) and at most one pending `next()`.
 */
class Sub implements Subscription, AsyncIterator<Envelope> {
  topics: Set<string> | "all" = new Set();
  limit = 1;
  private queue: Envelope[] = [];
  private head = 0;
  private queuedBytes = 0;
  private closed = false;
  private error: XmtpError | undefined;
  private waiter: ((r: IteratorResult<Envelope>) => void) | undefined;
  private failWaiter: ((e: unknown) => void) | undefined;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly hooks: SubHooks,
    private readonly maxBytes: number,
    private readonly onEnd: (() => void) | undefined,
  ) {}

  /** Whether an envelope on `topic` is still for this subscription (it may have changed since). */
  wants(topic: string): boolean {
    if (this.closed) return false;
    return this.topics === "all" ? topic.startsWith(TOPIC_PREFIX) : this.topics.has(topic);
  }

  /** Hot path: called by the dispatcher for every matching envelope. */
  push(env: Envelope): void {
    if (this.closed) return;
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      this.failWaiter = undefined;
      w({ done: false, value: env });
      return;
    }
    const size = sizeOf(env);
    if (this.queue.length - this.head >= this.limit || this.queuedBytes + size > this.maxBytes) {
      this.end(new XmtpError(Code.Aborted, OVERFLOW_MESSAGE), true);
      return;
    }
    this.queue.push(env);
    this.queuedBytes += size;
  }

  /** Closes this subscription when `signal` aborts; the listener is removed when it ends. */
  watch(signal: AbortSignal): void {
    if (signal.aborted) {
      this.close();
      return;
    }
    const onAbort = () => this.close();
    signal.addEventListener("abort", onAbort, { once: true });
    this.unwatch = () => signal.removeEventListener("abort", onAbort);
  }

  setTopics(topics: readonly string[]): void {
    if (this.closed) return;
    const next = toTopicSet(topics);
    this.hooks.retarget(this, next);
    // Envelopes already queued for topics no longer subscribed are dropped; kept topics keep theirs.
    if (this.head < this.queue.length) {
      const kept: Envelope[] = [];
      for (let i = this.head; i < this.queue.length; i++) {
        const e = this.queue[i] as Envelope;
        if (next === "all" ? e.contentTopic.startsWith(TOPIC_PREFIX) : next.has(e.contentTopic)) kept.push(e);
      }
      this.queue = kept;
      this.head = 0;
      this.queuedBytes = kept.reduce((n, e) => n + sizeOf(e), 0);
    }
  }

  close(): void {
    // After close() the iteration just ends, even if an overflow error was still unread.
    this.error = undefined;
    this.end(undefined, false);
  }

  next(): Promise<IteratorResult<Envelope>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head] as Envelope;
      this.queue[this.head] = undefined as unknown as Envelope;
      this.head++;
      this.queuedBytes -= sizeOf(value);
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
        // A consumer that never fully drains would otherwise grow the array without bound.
        this.queue.copyWithin(0, this.head);
        this.queue.length -= this.head;
        this.head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.error !== undefined) {
      const e = this.error;
      this.error = undefined; // thrown once; afterwards the iterator is simply done
      return Promise.reject(e);
    }
    if (this.closed) return Promise.resolve(DONE);
    if (this.waiter !== undefined) {
      return Promise.reject(new Error("subscription: next() called while another next() is pending"));
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<Envelope>> {
    this.close();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterator<Envelope> {
    return this;
  }

  private end(error: XmtpError | undefined, overflowed: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.hooks.remove(this, overflowed);
    try {
      this.onEnd?.();
    } catch {
      // The owner's bookkeeping must not keep the iteration from ending.
    }
    this.unwatch?.();
    this.unwatch = undefined;
    // The backlog is discarded: after close() nobody reads it, and after an overflow the client must
    // backfill anyway, so the error should reach it now rather than after the queue drains.
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    const w = this.waiter;
    const f = this.failWaiter;
    this.waiter = undefined;
    this.failWaiter = undefined;
    if (error !== undefined) {
      if (f !== undefined) f(error);
      else this.error = error;
    } else if (w !== undefined) {
      w(DONE);
    }
  }
}
