/**
 * Prometheus metrics for one node, on its own Registry (never the global one, so several nodes can
 * live in one process). Served at `GET /metrics` on the HTTP port.
 */
import type { Envelope } from "@xmtp-ts/proto";
import { topicCategory } from "@xmtp-ts/protocol";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { EnvelopeOutcome, EnvelopeSource, MessageApiMetrics } from "./api/service.js";
import type { Dispatcher } from "./dispatch/types.js";

/** Which listener served a call. */
export type Transport = "http" | "grpc" | "connect";

export interface NodeMetrics {
  readonly registry: Registry;
  /** Records one finished call (unary) or one stream opening. `code` is the gRPC code (0 = OK). */
  request(transport: Transport, method: string, code: number, seconds: number): void;
  /** Hooks for the message API: published envelopes by topic category, rate limiting. */
  readonly api: MessageApiMetrics;
  /** Counts a call into a node part that threw (`action`: broadcast, health, …). */
  partFailed(part: string, action: string): void;
  /** Adds gauges that read the dispatcher's live counts at scrape time. */
  observeDispatcher(dispatcher: Dispatcher): void;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Creates a fresh registry with the node's metrics and the default process metrics. */
export function createMetrics(): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "xmtp_api_requests_total",
    help: "API calls by transport, method and gRPC status code",
    labelNames: ["transport", "method", "code"] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: "xmtp_api_request_duration_seconds",
    help: "API call duration (streams: time to open) by transport, method and code",
    labelNames: ["transport", "method", "code"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const published = new Counter({
    name: "xmtp_published_envelopes_total",
    help: "Envelopes accepted, by topic category, source (publish|relay) and outcome (stored|duplicate|ephemeral)",
    labelNames: ["topic_category", "source", "outcome"] as const,
    registers: [registry],
  });
  const publishedBytes = new Histogram({
    name: "xmtp_published_envelope_bytes",
    help: "Size of accepted envelope messages",
    buckets: [128, 512, 1024, 4096, 16384, 65536, 262144, 1048576],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: "xmtp_rate_limited_total",
    help: "Calls refused by the rate limiter",
    registers: [registry],
  });
  const ingestRejected = new Counter({
    name: "xmtp_ingest_rejected_total",
    help: "Relayed envelopes dropped by validation",
    labelNames: ["reason"] as const,
    registers: [registry],
  });

  const partFailures = new Counter({
    name: "xmtp_part_failures_total",
    help: "Calls into a node part that threw (the relay's broadcast after a publish, a health report), by part and action",
    labelNames: ["part", "action"] as const,
    registers: [registry],
  });

  // Labelled children are looked up once per label set (a handful), not hashed on every call.
  const publishedBy = memo((category: string, source: string, outcome: string) =>
    published.labels(category, source, outcome),
  );
  const requestsBy = memo((transport: string, method: string, code: string) => ({
    count: requests.labels(transport, method, code),
    duration: durations.labels(transport, method, code),
  }));

  const api: MessageApiMetrics = {
    envelope(source: EnvelopeSource, envelope: Envelope, outcome: EnvelopeOutcome) {
      publishedBy(topicCategory(envelope.contentTopic), source, outcome).inc();
      publishedBytes.observe(envelope.message.length);
    },
    ingestRejected(problem) {
      ingestRejected.inc({ reason: String(problem) });
    },
    rateLimited() {
      rateLimited.inc();
    },
    relayFailed() {
      partFailures.inc({ part: "all", action: "broadcast" });
    },
  };

  return {
    registry,
    api,
    contentType: registry.contentType,
    partFailed(part, action) {
      partFailures.inc({ part, action });
    },
    request(transport, method, code, seconds) {
      const m = requestsBy(transport, method, String(code));
      m.count.inc();
      m.duration.observe(seconds);
    },
    observeDispatcher(dispatcher) {
      new Gauge({
        name: "xmtp_subscriptions",
        help: "Open subscriptions (streams)",
        registers: [registry],
        collect() {
          this.set(dispatcher.stats().subscriptions);
        },
      });
      new Gauge({
        name: "xmtp_subscribed_topics",
        help: "Distinct topics with at least one subscriber",
        registers: [registry],
        collect() {
          this.set(dispatcher.stats().topics);
        },
      });
      let seenOverflows = 0;
      new Counter({
        name: "xmtp_subscription_overflows_total",
        help: "Subscriptions ended because their buffer overflowed",
        registers: [registry],
        collect() {
          const n = dispatcher.stats().overflows;
          if (n > seenOverflows) this.inc(n - seenOverflows);
          seenOverflows = n;
        },
      });
    },
    render: () => registry.metrics(),
  };
}

/** Caches `make` by its three string arguments. */
function memo<T>(make: (a: string, b: string, c: string) => T): (a: string, b: string, c: string) => T {
  const cache = new Map<string, T>();
  return (a, b, c) => {
    const key = `${a}\u0000${b}\u0000${c}`;
    let v = cache.get(key);
    if (v === undefined) {
      v = make(a, b, c);
      cache.set(key, v);
    }
    return v;
  };
}
