/**
 * Waku relay between nodes: libp2p (tcp, noise, yamux, identify) with gossipsub speaking
 * `/vac/waku/relay/2.0.0` on `/waku/2/default-waku/proto`, the Waku store protocol (serve + sync),
 * and static peers that are redialled while disconnected (protocol.md §15–§16).
 *
 * The relay only carries envelopes between nodes: the API dispatches a node's own publishes
 * locally and calls `broadcast` after they commit; envelopes from peers go to `onMessage`
 * (the API's ingest: validate, store with dedupe, dispatch new ones).
 */
import { createHash } from "node:crypto";
import { type GossipSub, gossipsub } from "@chainsafe/libp2p-gossipsub";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { privateKeyFromRaw } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import { type Message, type PeerId, TopicValidatorResult } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Envelope } from "@xmtp-ts/proto";
import { createLibp2p, type Libp2p } from "libp2p";
import pRetry from "p-retry";
import { type Logger, pino } from "pino";
import type { Registry } from "prom-client";
import type { Store } from "../store/types.js";
import { newRelayStats, type RelayStats, registerRelayMetrics } from "./metrics.js";
import {
  answerHistoryQuery,
  answerReceivedDigestsQuery,
  answerReceivedQuery,
  RECEIVED_DIGESTS_PROTOCOL,
  RECEIVED_SYNC_PROTOCOL,
  serveStoreStream,
  WAKU_STORE_PROTOCOL,
} from "./store-protocol.js";
import { createSyncManager, type PeerSyncStatus, type SyncManager } from "./sync.js";
import {
  decodeRelayMessage,
  encodeEnvelopeForRelay,
  MAX_WAKU_MESSAGE_BYTES,
  WAKU_PUBSUB_TOPIC,
  WAKU_RELAY_PROTOCOL,
} from "./waku-message.js";

/** Gossipsub ids advertised, the Waku relay id first (protocol.md §15.1). */
export const RELAY_MULTICODECS = [WAKU_RELAY_PROTOCOL, "/meshsub/1.1.0", "/meshsub/1.0.0", "/floodsub/1.0.0"];
/** First and largest delay between redials of a disconnected static peer. */
export const REDIAL_MIN_MS = 500;
/** Relayed envelopes being ingested at once; beyond this (or the byte cap) they are dropped. */
export const MAX_RELAY_INFLIGHT = 8192;
export const MAX_RELAY_INFLIGHT_BYTES = 256 * 1_048_576;
export const REDIAL_MAX_MS = 10_000;

export interface RelayOptions {
  /** TCP port for libp2p; 0 = a random free port. */
  listenPort: number;
  /** Interface to listen on (default 0.0.0.0). */
  listenHost?: string | undefined;
  /** Static peers as multiaddrs (with `/p2p/<id>` when known), dialled at start and redialled. */
  peers: readonly string[];
  /** The secp256k1 node key (see node-key.ts). */
  nodeKey: NodeKey;
  store: Store;
  /**
   * Envelopes received from peers: the API's ingest. `"relay"` for live gossip, `"sync"` for
   * history fetched over Waku store.
   */
  onMessage: (envelopes: Envelope[], source: "relay" | "sync") => Promise<unknown>;
  logger?: Logger | undefined;
  /** prom-client registry that gains the relay/sync metrics. */
  metrics?: Registry | undefined;
  /** File for the per-peer sync positions (e.g. `<data-dir>/sync-state.json`). */
  syncStateFile?: string | undefined;
  /** Safety window of the sender-time sync with standard Waku store peers (default 20 s). */
  syncWindowNs?: bigint | undefined;
  /** Time between sync passes while a peer stays connected (default 30 s). */
  syncIntervalMs?: number | undefined;
  /** Envelopes per page asked from catch-up peers (default 1000). */
  syncPageSize?: number | undefined;
  /** Relayed envelopes ingested at once before further ones are dropped (default MAX_RELAY_INFLIGHT). */
  relayInflightLimit?: number | undefined;
  /** Set false to serve the store protocol without syncing from peers. */
  sync?: boolean | undefined;
}

export interface Relay {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Publishes envelopes to peers (after the API committed them). Never throws. */
  broadcast(envelopes: readonly Envelope[]): Promise<void>;
  /** The node's listen addresses, each ending in `/p2p/<peer id>`. */
  multiaddrs(): string[];
  peerId(): string;
  /** Connected peers. */
  peerCount(): number;
  /** Peers in the gossipsub mesh of the Waku topic. */
  meshPeerCount(): number;
  stats(): RelayStats;
  syncStatus(): PeerSyncStatus[];
  /** The underlying libp2p node (tests, benchmarks). */
  readonly libp2p: Libp2p;
  /** Sync from a connected peer now; resolves when done (tests, benchmarks). */
  syncFrom(peerId: string): Promise<void>;
}

interface StaticPeer {
  addr: Multiaddr;
  peerId?: PeerId;
  /** A dial loop is running for it. */
  dialing: boolean;
}

/** The node key as produced by `loadOrCreateNodeKey` (@libp2p/crypto). */
export type NodeKey = ReturnType<typeof privateKeyFromRaw>;
type Libp2pKey = NonNullable<NonNullable<Parameters<typeof createLibp2p>[0]>["privateKey"]>;

/** Creates the relay (not started). */
export async function createRelay(opts: RelayOptions): Promise<Relay> {
  const logger = opts.logger ?? pino({ level: "silent" });
  const stats = newRelayStats();
  const host = opts.listenHost ?? "0.0.0.0";
  const libp2p = await createLibp2p({
    start: false,
    // @libp2p/crypto and libp2p resolve different @libp2p/interface versions; the key is the same.
    privateKey: opts.nodeKey as unknown as Libp2pKey,
    addresses: { listen: [`/ip4/${host}/tcp/${opts.listenPort}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: "StrictNoSign",
        msgIdFn: (msg) => createHash("sha256").update(msg.data).digest(),
        emitSelf: false,
        floodPublish: true,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        heartbeatInterval: 1000,
        D: 6,
        Dlo: 4,
        Dhi: 12,
        seenTTL: 2 * 60 * 1000,
        // One RPC carries at most a maximal WakuMessage plus framing and control data.
        maxInboundDataLength: MAX_WAKU_MESSAGE_BYTES + 64 * 1024,
      }),
    },
  });
  const pubsub = libp2p.services.pubsub as unknown as GossipSub;
  // The protocol list is an instance field in gossipsub v14; set it before start (protocol.md §17).
  pubsub.multicodecs = [...RELAY_MULTICODECS];

  const sync: SyncManager = createSyncManager({
    dialer: libp2p,
    store: opts.store,
    ingest: (envs) => opts.onMessage(envs, "sync"),
    logger: logger.child({ part: "sync" }),
    stats,
    stateFile: opts.syncStateFile,
    windowNs: opts.syncWindowNs,
    intervalMs: opts.syncIntervalMs,
    pageSize: opts.syncPageSize,
  });
  const syncEnabled = opts.sync ?? true;

  const statics: StaticPeer[] = opts.peers.map((p) => {
    const addr = multiaddr(p);
    const id = addr.getPeerId();
    return {
      addr,
      ...(id !== null ? { peerId: peerIdFromString(id) } : {}),
      dialing: false,
    };
  });
  const stopped = new AbortController();
  let stopping = false;
  const decoded = new WeakMap<Message, Envelope>();
  let inflight = 0;
  const inflightLimit = opts.relayInflightLimit ?? MAX_RELAY_INFLIGHT;
  let inflightBytes = 0;

  const reject = (reason: string) => {
    stats.relayRejected[reason] = (stats.relayRejected[reason] ?? 0) + 1;
  };

  const onMessage = (evt: CustomEvent<Message>) => {
    const msg = evt.detail;
    if (msg.topic !== WAKU_PUBSUB_TOPIC) return;
    const env = decoded.get(msg);
    if (env === undefined) return;
    // Bounded work in flight: a peer flooding faster than the store commits is shed, not queued.
    if (inflight >= inflightLimit || inflightBytes >= MAX_RELAY_INFLIGHT_BYTES) {
      reject("overloaded");
      return;
    }
    stats.relayIn++;
    inflight++;
    inflightBytes += env.message.length;
    opts
      .onMessage([env], "relay")
      .catch((err: Error) => {
        logger.warn({ err: err.message, topic: env.contentTopic }, "relay ingest failed");
      })
      .finally(() => {
        inflight--;
        inflightBytes -= env.message.length;
      });
  };

  const connectedTo = (sp: StaticPeer) =>
    sp.peerId !== undefined && libp2p.getConnections(sp.peerId).length > 0;

  /** Dials a static peer until it answers (backoff from REDIAL_MIN_MS doubling to REDIAL_MAX_MS). */
  const keepDialling = (sp: StaticPeer) => {
    if (sp.dialing || stopping || connectedTo(sp)) return;
    sp.dialing = true;
    pRetry(
      async () => {
        if (connectedTo(sp)) return;
        const conn = await libp2p.dial(sp.addr, {
          signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(10_000)]),
        });
        sp.peerId = conn.remotePeer;
        logger.info(
          { peer: conn.remotePeer.toString(), addr: sp.addr.toString() },
          "connected to static peer",
        );
      },
      {
        forever: true,
        factor: 2,
        minTimeout: REDIAL_MIN_MS,
        maxTimeout: REDIAL_MAX_MS,
        randomize: false,
        signal: stopped.signal,
        onFailedAttempt: (err) => {
          stats.dialFailures++;
          logger.debug(
            { addr: sp.addr.toString(), err: err.message, attempt: err.attemptNumber },
            "dial failed",
          );
        },
      },
    )
      .catch(() => {}) // only when stopping
      .finally(() => {
        sp.dialing = false;
        // Lost again before this loop ended (its disconnect event found it still running).
        if (!stopping && !connectedTo(sp)) keepDialling(sp);
      });
  };

  const connectedPeers = () => new Set(libp2p.getConnections().map((c) => c.remotePeer.toString())).size;

  if (opts.metrics !== undefined) {
    registerRelayMetrics(opts.metrics, () => relay.stats());
  }

  const relay: Relay = {
    libp2p,
    async start() {
      if (syncEnabled) await sync.start();
      // The standard Waku store for any Waku client, and the catch-up protocol for nodes.
      for (const [protocol, answer] of [
        [WAKU_STORE_PROTOCOL, answerHistoryQuery],
        [RECEIVED_SYNC_PROTOCOL, answerReceivedQuery],
        [RECEIVED_DIGESTS_PROTOCOL, answerReceivedDigestsQuery],
      ] as const) {
        await libp2p.handle(
          protocol,
          ({ stream, connection }) => {
            void serveStoreStream(stream, connection, {
              store: opts.store,
              answer,
              logger,
              onQuery: () => stats.storeQueriesServed++,
              onStreamError: () => stats.storeStreamErrors++,
            });
          },
          { maxInboundStreams: 32, maxOutboundStreams: 32 },
        );
      }
      pubsub.topicValidators.set(WAKU_PUBSUB_TOPIC, (peer, msg) => {
        const r = decodeRelayMessage(msg.data);
        if (!r.ok) {
          reject(r.reason);
          logger.warn(
            { peer: peer.toString(), reason: r.reason, detail: r.detail },
            "dropping relay message",
          );
          return TopicValidatorResult.Reject;
        }
        decoded.set(msg, r.envelope);
        return TopicValidatorResult.Accept;
      });
      pubsub.addEventListener("message", onMessage);
      libp2p.addEventListener("peer:identify", (evt) => {
        if (syncEnabled) sync.peerConnected(evt.detail.peerId, evt.detail.protocols);
      });
      libp2p.addEventListener("peer:disconnect", (evt) => {
        logger.info({ peer: evt.detail.toString() }, "peer disconnected");
        sync.peerDisconnected(evt.detail);
        const sp = statics.find((s) => s.peerId?.equals(evt.detail));
        if (sp !== undefined) keepDialling(sp);
      });
      libp2p.addEventListener("peer:connect", (evt) => {
        logger.info({ peer: evt.detail.toString() }, "peer connected");
      });
      await libp2p.start();
      pubsub.subscribe(WAKU_PUBSUB_TOPIC);
      for (const sp of statics) keepDialling(sp);
      logger.info({ peerId: libp2p.peerId.toString(), addrs: relay.multiaddrs() }, "relay started");
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      stopped.abort();
      await sync.stop();
      pubsub.removeEventListener("message", onMessage);
      await libp2p.stop();
    },
    async broadcast(envelopes) {
      // With no peer subscribed to the relay topic gossipsub would only fill its message cache:
      // skip the encoding and hashing. Peers that join later catch up over Waku store.
      if (stopping) return;
      if (pubsub.getSubscribers(WAKU_PUBSUB_TOPIC).length === 0) {
        stats.relayUnsent += envelopes.length;
        return;
      }
      for (const env of envelopes) {
        try {
          await pubsub.publish(WAKU_PUBSUB_TOPIC, encodeEnvelopeForRelay(env));
          stats.relayOut++;
        } catch (err) {
          stats.relayPublishFailed++;
          logger.warn({ err: (err as Error).message, topic: env.contentTopic }, "relay publish failed");
        }
      }
    },
    multiaddrs() {
      return libp2p.getMultiaddrs().map((a) => a.toString());
    },
    peerId() {
      return libp2p.peerId.toString();
    },
    peerCount: connectedPeers,
    meshPeerCount() {
      return pubsub.getMeshPeers(WAKU_PUBSUB_TOPIC).length;
    },
    stats() {
      stats.peers = connectedPeers();
      stats.meshPeers = relay.meshPeerCount();
      return stats;
    },
    syncStatus: () => sync.status(),
    async syncFrom(peerId) {
      const conn = libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId);
      if (conn === undefined) throw new Error(`not connected to ${peerId}`);
      await sync.syncNow(conn.remotePeer);
    },
  };
  return relay;
}
