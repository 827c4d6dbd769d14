/** In-node fan-out of envelopes to local subscribers, indexed by topic. */
import type { Envelope } from "@xmtp-ts/proto";
import type { Subscription } from "../api/types.js";

export interface DispatcherOptions {
  /** Envelopes buffered per topic subscription before it is ended with an overflow error. */
  bufferSize: number;
  /** Buffer for subscribe-all subscriptions. */
  allBufferSize: number;
  /** Bytes (messages and topics) buffered per subscription before it is ended with an overflow error. */
  bufferBytes: number;
}

export interface SubscribeOptions {
  /** Closes the subscription when aborted (the caller went away). */
  signal?: AbortSignal | undefined;
  /** Called once when the subscription ends (closed, aborted or overflowed). */
  onEnd?: (() => void) | undefined;
}

export interface Dispatcher {
  /** Delivers an envelope to every subscriber of its topic (and subscribe-all for `/xmtp/0/`). */
  publish(envelope: Envelope): void;
  /**
   * Registers synchronously; iteration throws XmtpError(Aborted, "subscription buffer overflow, …")
   * on overflow. An aborted `signal` closes the subscription.
   */
  subscribe(topics: readonly string[] | "all", opts?: SubscribeOptions): Subscription;
  /**
   * Open subscriptions, distinct subscribed topics, subscriptions ended by overflow, and
   * envelope deliveries attempted (one per matching subscription), for metrics.
   */
  stats(): { subscriptions: number; topics: number; overflows: number; delivered: number };
  /** Ends every subscription (on shutdown). */
  closeAll(): void;
}
