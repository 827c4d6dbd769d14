/**
 * Counters of the relay and the Waku store protocol. Kept as plain numbers so the relay works
 * without a metrics registry; `registerRelayMetrics` exposes them to prom-client on scrape.
 */
import { Counter, Gauge, type Registry } from "prom-client";

/** Live relay/sync figures; every field only grows except `peers`, `syncActive` and `sync*Ns`. */
export interface RelayStats {
  /** Connected peers. */
  peers: number;
  /** Peers in the gossipsub mesh of the Waku pubsub topic. */
  meshPeers: number;
  /** Envelopes received over gossipsub and handed to ingest. */
  relayIn: number;
  /** Envelopes published to gossipsub. */
  relayOut: number;
  /** Envelopes not gossiped because no peer was subscribed to the relay topic. */
  relayUnsent: number;
  /** Envelopes whose gossip publish failed after they were committed. */
  relayPublishFailed: number;
  /** Failed dials of static peers. */
  dialFailures: number;
  /** Relay messages refused (malformed, oversized), by reason. */
  relayRejected: Record<string, number>;
  /** Store-protocol queries served. */
  storeQueriesServed: number;
  /** Store-protocol streams closed because of a bad frame or timeout. */
  storeStreamErrors: number;
  /** Sync runs started / completed / failed. */
  syncStarted: number;
  syncCompleted: number;
  syncFailed: number;
  /** Syncs in progress. */
  syncActive: number;
  /** Envelopes fetched by sync (before dedupe) and pages fetched. */
  syncEnvelopes: number;
  syncPages: number;
  /** Bytes of sync responses received (full pages and summaries). */
  syncBytes: number;
  /** Envelopes named by repair summaries, and of those the ones this node lacked (then fetched). */
  syncChecked: number;
  syncMissing: number;
  /** Envelopes from store responses dropped because they break the API limits. */
  syncRejected: number;
  /** Sender timestamp (ns) of the last envelope a sync inserted; 0 when none. */
  syncLastTimestampNs: bigint;
}

export function newRelayStats(): RelayStats {
  return {
    peers: 0,
    meshPeers: 0,
    relayIn: 0,
    relayOut: 0,
    relayUnsent: 0,
    relayPublishFailed: 0,
    dialFailures: 0,
    relayRejected: {},
    storeQueriesServed: 0,
    storeStreamErrors: 0,
    syncStarted: 0,
    syncCompleted: 0,
    syncFailed: 0,
    syncActive: 0,
    syncEnvelopes: 0,
    syncPages: 0,
    syncBytes: 0,
    syncChecked: 0,
    syncMissing: 0,
    syncRejected: 0,
    syncLastTimestampNs: 0n,
  };
}

/**
 * Registers `xmtp_relay_*`, `xmtp_store_protocol_*` and `xmtp_sync_*` metrics on `registry`, read
 * from `stats()` at scrape time.
 */
export function registerRelayMetrics(registry: Registry, stats: () => RelayStats): void {
  const gauge = (name: string, help: string, read: (s: RelayStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(stats()));
      },
    });
  // Monotonic figures are exposed as counters whose value is set to the running total at scrape.
  const counter = (name: string, help: string, read: (s: RelayStats) => number) => {
    const c = new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        c.reset();
        c.inc(read(stats()));
      },
    });
    return c;
  };
  gauge("xmtp_relay_peers", "Connected libp2p peers", (s) => s.peers);
  gauge("xmtp_relay_mesh_peers", "Peers in the gossipsub mesh of the Waku topic", (s) => s.meshPeers);
  counter("xmtp_relay_in_total", "Envelopes received from the relay", (s) => s.relayIn);
  counter("xmtp_relay_out_total", "Envelopes published to the relay", (s) => s.relayOut);
  counter(
    "xmtp_relay_unsent_total",
    "Envelopes not gossiped because no peer was subscribed to the relay topic",
    (s) => s.relayUnsent,
  );
  counter(
    "xmtp_relay_publish_failed_total",
    "Committed envelopes whose gossip publish failed (peers catch up by sync)",
    (s) => s.relayPublishFailed,
  );
  counter("xmtp_relay_dial_failures_total", "Failed dials of static peers", (s) => s.dialFailures);
  const rejected = new Counter({
    name: "xmtp_relay_rejected_total",
    help: "Relay messages refused, by reason",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      rejected.reset();
      for (const [reason, n] of Object.entries(stats().relayRejected)) rejected.inc({ reason }, n);
    },
  });
  counter("xmtp_store_protocol_queries_total", "Waku store queries served", (s) => s.storeQueriesServed);
  counter(
    "xmtp_store_protocol_stream_errors_total",
    "Waku store streams closed for a bad frame or timeout",
    (s) => s.storeStreamErrors,
  );
  counter("xmtp_sync_started_total", "History syncs started", (s) => s.syncStarted);
  counter("xmtp_sync_completed_total", "History syncs completed", (s) => s.syncCompleted);
  counter("xmtp_sync_failed_total", "History syncs failed", (s) => s.syncFailed);
  gauge("xmtp_sync_active", "History syncs in progress", (s) => s.syncActive);
  counter(
    "xmtp_sync_envelopes_total",
    "Envelopes fetched by history sync (before dedupe)",
    (s) => s.syncEnvelopes,
  );
  counter("xmtp_sync_pages_total", "Pages fetched by history sync", (s) => s.syncPages);
  counter("xmtp_sync_bytes_total", "Bytes of history sync responses received", (s) => s.syncBytes);
  counter(
    "xmtp_sync_checked_total",
    "Envelopes named by repair summaries (checked against the local store)",
    (s) => s.syncChecked,
  );
  counter(
    "xmtp_sync_missing_total",
    "Envelopes repair summaries named that this node lacked (then fetched whole)",
    (s) => s.syncMissing,
  );
  counter(
    "xmtp_sync_rejected_total",
    "Envelopes from peers' store responses dropped for breaking the API limits",
    (s) => s.syncRejected,
  );
  gauge(
    "xmtp_sync_last_timestamp_seconds",
    "Sender time of the last envelope inserted by sync",
    (s) => Number(s.syncLastTimestampNs / 1_000_000n) / 1000,
  );
}
