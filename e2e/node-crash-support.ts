/**
 * Publish load for crash tests: writers publishing small authenticated batches as fast as the node
 * acknowledges them, recording exactly which envelopes were acknowledged (HTTP 200).
 */
import { alice } from "../packages/node/src/api/test-support.js";
import { bytes, type HasUrl, nowNs, publish } from "./network-support.js";

export interface PublishLoad {
  /** Payloads (as text) of every acknowledged envelope. */
  readonly acked: string[];
  /** Messages of failed publishes, in order. */
  readonly failures: string[];
  /** Stops the writers and waits for them. */
  stop(): Promise<void>;
}

export interface PublishLoadOptions {
  /** The node to publish to, read before each publish (so a restarted node is used). */
  target: () => HasUrl;
  topic: string;
  writers?: number;
  batch?: number;
  /** Keep publishing after a failure (after a short pause) instead of stopping that writer. */
  keepGoing?: boolean;
  /** Prefix of the payloads, unique per load. */
  prefix?: string;
}

export function startPublishLoad(opts: PublishLoadOptions): PublishLoad {
  const acked: string[] = [];
  const failures: string[] = [];
  const prefix = opts.prefix ?? `p${Date.now()}-`;
  const base = nowNs();
  let seq = 0;
  let stopped = false;
  const writer = async () => {
    while (!stopped) {
      const batch = Array.from({ length: opts.batch ?? 5 }, () => {
        const i = seq++;
        return { contentTopic: opts.topic, timestampNs: base + BigInt(i), message: bytes(`${prefix}${i}`) };
      });
      try {
        // A fresh token per batch: load may outlive one token's validity window.
        await publish(opts.target(), batch, alice.bearer(nowNs()));
        for (const e of batch) acked.push(`${prefix}${Number(e.timestampNs - base)}`);
      } catch (err) {
        failures.push((err as Error).message);
        // An unacknowledged batch may or may not be stored; only acknowledged ones are counted.
        if (opts.keepGoing !== true) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const writers = Array.from({ length: opts.writers ?? 8 }, () => writer());
  return {
    acked,
    failures,
    async stop() {
      stopped = true;
      await Promise.all(writers);
    },
  };
}
