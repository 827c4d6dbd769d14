/**
 * History sync from peers (docs/sync.md). A peer that serves the catch-up protocol is walked in
 * its own receive order from the position reached last time (persisted per peer), so nothing it
 * holds is missed whatever timestamps clients chose. A peer that only speaks the standard Waku
 * store is walked forward by sender time from this node's newest envelope minus a safety window.
 * Passes run when a peer connects and then periodically while it stays connected; every page goes
 * through the ingest path (validation, de-duplication, dispatch of what is new), and a position is
 * recorded only after its page is committed. Once a peer has been walked in full on the current
 * connection, the periodic (repair) passes first ask for summaries of the same pages (timestamp and
 * digest of each envelope) and fetch in full only the stretches holding envelopes this node lacks,
 * so a repair pass on a network where gossip delivered everything costs digests, not envelopes.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { PeerId } from "@libp2p/interface";
import type { Envelope } from "@xmtp-ts/proto";
import {
  HistoryQuerySchema,
  type HistoryResponse,
  HistoryResponse_HistoryError,
  type Index,
  IndexSchema,
  PagingInfo_Direction,
  PagingInfoSchema,
} from "@xmtp-ts/proto/waku";
import PQueue from "p-queue";
import pRetry, { AbortError } from "p-retry";
import type { Logger } from "pino";
import type { Store } from "../store/types.js";
import type { RelayStats } from "./metrics.js";
import {
  MAX_RECEIVED_PAGE_SIZE,
  MAX_STORE_PAGE_SIZE,
  RECEIVED_DIGESTS_PROTOCOL,
  RECEIVED_SYNC_PROTOCOL,
  responseEnvelopes,
  responseKeys,
  StoreSession,
  type StreamDialer,
  WAKU_STORE_PROTOCOL,
} from "./store-protocol.js";
import { WAKU_PUBSUB_TOPIC } from "./waku-message.js";

/** Safety window of the sender-time walk used with standard Waku store peers: 20 s. */
export const SYNC_WINDOW_NS = 20_000_000_000n;
/** Passes running at once. */
export const MAX_CONCURRENT_SYNCS = 5;
/** A single page request that takes longer than this fails the pass. */
export const SYNC_PAGE_TIMEOUT_MS = 30_000;
/** A connected peer is walked again this often, keeping its position current. */
export const SYNC_INTERVAL_MS = 30_000;
/** First delay before a failed pass is retried; it doubles up to the interval. */
export const SYNC_RETRY_MS = 1_000;
/** Retries of a failed pass while the peer stays connected (the periodic pass comes after). */
export const SYNC_MAX_RETRIES = 5;
/** Progress is saved at most this often during a pass (and always at its end). */
const SAVE_EVERY_MS = 1_000;

export interface SyncOptions {
  dialer: StreamDialer;
  store: Store;
  /** The relay-in path: validates, stores with dedupe, dispatches new envelopes. */
  ingest: (envelopes: Envelope[]) => Promise<unknown>;
  logger: Logger;
  stats: RelayStats;
  /** JSON file for the per-peer positions; in memory only when absent. */
  stateFile?: string | undefined;
  /** Safety window of the sender-time walk (standard Waku store peers). */
  windowNs?: bigint | undefined;
  /** Envelopes per page asked from catch-up peers (default and most: 1000). */
  pageSize?: number | undefined;
  /** Time between passes while a peer stays connected (default SYNC_INTERVAL_MS). */
  intervalMs?: number | undefined;
  /** Wall clock in ns (tests). */
  nowNs?: (() => bigint) | undefined;
}

export interface PeerSyncStatus {
  peer: string;
  state: "running" | "done" | "failed" | "queued";
  /** `received`: the catch-up protocol; `sender-time`: the standard Waku store. */
  mode: "received" | "sender-time";
  /** The latest pass was a repair (summaries first, then only what was missing). */
  repair?: boolean;
  /** Envelopes and pages fetched by the latest pass. */
  envelopes: number;
  pages: number;
  /** Completed passes since the peer was first seen. */
  passes: number;
  lastTimestampNs?: string;
  error?: string;
}

export interface SyncManager {
  /** Loads persisted positions and notes the floor of the sender-time walk. */
  start(): Promise<void>;
  /** Aborts running passes, waits for them and saves the positions. */
  stop(): Promise<void>;
  /** A peer is connected and speaks `protocols`: walk it now and then periodically. */
  peerConnected(peer: PeerId, protocols: readonly string[]): void;
  /** All connections to a peer closed. */
  peerDisconnected(peer: PeerId): void;
  /** Walks `peer` now (after any pass in progress) and resolves when done; rejects on failure. */
  syncNow(peer: PeerId): Promise<void>;
  /** Per-peer status for health and logs. */
  status(): PeerSyncStatus[];
}

interface PeerState {
  peer: PeerId;
  connected: boolean;
  mode: PeerSyncStatus["mode"];
  /** The peer serves the catch-up summaries (repair passes can ask for digests first). */
  summaries: boolean;
  /** A full catch-up pass completed on the current connection: later passes are repairs. */
  caughtUp: boolean;
  running?: Promise<void> | undefined;
  /** The next periodic pass. */
  timer?: NodeJS.Timeout | undefined;
  /** Aborted when the peer disconnects or sync stops: ends retries of the current pass. */
  connection: AbortController;
  status: PeerSyncStatus;
}

const wallNs = () => BigInt(Date.now()) * 1_000_000n;

/** True when cursor `b` is strictly after `a` in (sender_time, digest) order. */
function after(a: Index | undefined, b: Index): boolean {
  if (a === undefined) return true;
  if (b.senderTime !== a.senderTime) return b.senderTime > a.senderTime;
  return Buffer.compare(b.digest, a.digest) > 0;
}

export function createSyncManager(opts: SyncOptions): SyncManager {
  const { dialer, store, ingest, logger, stats } = opts;
  const windowNs = opts.windowNs ?? SYNC_WINDOW_NS;
  const pageSize = Math.max(1, Math.min(MAX_RECEIVED_PAGE_SIZE, opts.pageSize ?? MAX_RECEIVED_PAGE_SIZE));
  const intervalMs = opts.intervalMs ?? SYNC_INTERVAL_MS;
  const now = opts.nowNs ?? wallNs;
  const peers = new Map<string, PeerState>();
  /** Persisted: peer → the position reached in its receive order. */
  const positions = new Map<string, Uint8Array>();
  const passes = new PQueue({ concurrency: MAX_CONCURRENT_SYNCS });
  const abort = new AbortController();
  let saving: Promise<void> = Promise.resolve();
  let stopped = false;

  /** This node's store id (hex), read when sync starts. */
  let ownStore = "";

  const save = (): Promise<void> => {
    const file = opts.stateFile;
    // Never started (sync disabled): the file on disk stays as it is.
    if (file === undefined || ownStore === "") return Promise.resolve();
    const body = JSON.stringify({
      version: 2,
      // Positions say what this store already holds: they are void for another store.
      store: ownStore,
      positions: Object.fromEntries([...positions].map(([p, pos]) => [p, Buffer.from(pos).toString("hex")])),
    });
    saving = saving
      .then(async () => {
        await mkdir(dirname(file), { recursive: true });
        const tmp = `${file}.${randomUUID()}.tmp`;
        await writeFile(tmp, body);
        await rename(tmp, file);
      })
      .catch((err: Error) => logger.warn({ err: err.message }, "saving sync positions failed"));
    return saving;
  };

  const load = async () => {
    ownStore = Buffer.from(store.id()).toString("hex");
    if (opts.stateFile === undefined) return;
    let text: string;
    try {
      text = await readFile(opts.stateFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    try {
      // Older files (sender-time progress) have no positions: every peer is walked whole once.
      const parsed = JSON.parse(text) as { store?: unknown; positions?: Record<string, unknown> };
      if (parsed.store !== ownStore) {
        // The store was replaced or emptied since (or the file is older): walk every peer whole.
        if (parsed.positions !== undefined)
          logger.warn("sync positions belong to another store: ignoring them");
        return;
      }
      for (const [p, hex] of Object.entries(parsed.positions ?? {})) {
        if (typeof hex === "string" && /^(?:[0-9a-f]{2}){1,64}$/.test(hex)) {
          positions.set(p, new Uint8Array(Buffer.from(hex, "hex")));
        }
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, "ignoring unreadable sync positions file");
    }
  };

  const stateOf = (peer: PeerId): PeerState => {
    const key = peer.toString();
    let s = peers.get(key);
    if (s === undefined) {
      const mode = "received";
      s = {
        peer,
        connected: false,
        mode,
        summaries: false,
        caughtUp: false,
        connection: new AbortController(),
        status: { peer: key, state: "queued", mode, envelopes: 0, pages: 0, passes: 0 },
      };
      peers.set(key, s);
    }
    return s;
  };

  const query = (
    session: StoreSession,
    fields: { cursor?: Index | undefined; startTime?: bigint; size: number },
  ): Promise<HistoryResponse> => {
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(SYNC_PAGE_TIMEOUT_MS)]);
    const q = create(HistoryQuerySchema, {
      pubsubTopic: WAKU_PUBSUB_TOPIC,
      ...(fields.startTime !== undefined ? { startTime: fields.startTime } : {}),
      pagingInfo: create(PagingInfoSchema, {
        pageSize: BigInt(fields.size),
        direction: PagingInfo_Direction.FORWARD,
        ...(fields.cursor !== undefined ? { cursor: fields.cursor } : {}),
      }),
    });
    return session.query(q, signal).then((r) => {
      if (r.error !== HistoryResponse_HistoryError.NONE) {
        throw new Error(`store peer answered error ${HistoryResponse_HistoryError[r.error]}`);
      }
      return r;
    });
  };

  /**
   * Pages through a peer: the next page is asked for while the current one is stored. `nextOf`
   * gives the request after a response (undefined: the walk is complete); `committed` runs once a
   * page's envelopes are stored.
   */
  const walk = async (
    s: PeerState,
    first: Promise<HistoryResponse>,
    nextOf: (r: HistoryResponse) => Promise<HistoryResponse> | undefined,
    committed: (r: HistoryResponse) => void,
  ) => {
    let next: Promise<HistoryResponse> | undefined = first;
    while (next !== undefined) {
      const response: HistoryResponse = await next;
      next = nextOf(response);
      next?.catch(() => {});
      await storePage(s, response);
      committed(response);
    }
  };

  /** Stores one page of a peer's envelopes through the ingest path, and counts it. */
  const storePage = async (s: PeerState, response: HistoryResponse) => {
    const { envelopes, rejected } = responseEnvelopes(response);
    if (rejected.length > 0) {
      stats.syncRejected += rejected.length;
      logger.warn(
        { peer: s.peer.toString(), dropped: rejected.length, reason: rejected[0]?.detail },
        "dropped envelopes over the API limits from a store response",
      );
    }
    if (envelopes.length > 0) {
      await ingest(envelopes);
      const lastTs = envelopes[envelopes.length - 1]!.timestampNs;
      stats.syncLastTimestampNs = lastTs;
      s.status.lastTimestampNs = lastTs.toString();
    }
    stats.syncEnvelopes += envelopes.length;
    stats.syncPages++;
    s.status.envelopes += envelopes.length;
    s.status.pages++;
  };

  /** The position a catch-up page ends at; throws when it is missing or does not advance. */
  const endOf = (r: HistoryResponse, asked: Uint8Array | undefined): Uint8Array => {
    const position = r.pagingInfo?.cursor?.digest;
    if (position === undefined || position.length === 0) {
      throw new Error("store peer answered a catch-up page without a position");
    }
    if (asked !== undefined && Buffer.compare(position, asked) === 0) {
      throw new Error("store peer returned a position that does not advance");
    }
    return position;
  };

  /** Records the position reached at a peer, saving the file at most once a second. */
  const progress = (() => {
    let lastSave = Date.now();
    return (s: PeerState, position: Uint8Array) => {
      const key = s.peer.toString();
      positions.set(key, position);
      if (Date.now() - lastSave >= SAVE_EVERY_MS) {
        lastSave = Date.now();
        void save();
        logger.info({ peer: key, envelopes: s.status.envelopes }, "history sync progress");
      }
    };
  })();

  const pageRequest = (session: StoreSession, position: Uint8Array | undefined, size = pageSize) =>
    query(session, {
      size,
      ...(position !== undefined ? { cursor: create(IndexSchema, { digest: position }) } : {}),
    });

  /** The catch-up protocol: the peer's receive order from the recorded position to its end. */
  const walkReceived = async (s: PeerState, session: StoreSession) => {
    let asked = positions.get(s.peer.toString());
    await walk(
      s,
      pageRequest(session, asked),
      (r) => {
        // An empty page: everything the peer had committed is here.
        if (r.messages.length === 0) return undefined;
        asked = endOf(r, asked);
        return pageRequest(session, asked);
      },
      (r) => {
        if (r.messages.length > 0) progress(s, endOf(r, undefined));
      },
    );
    await save();
  };

  /**
   * A repair pass: the same walk, but each page is first asked as a summary; a page whose
   * envelopes are all here only moves the position, and a page with any missing is fetched whole
   * (the same stretch of the peer's receive order, from the same position).
   */
  const walkSummaries = async (s: PeerState, summaries: StoreSession, full: StoreSession) => {
    let asked = positions.get(s.peer.toString());
    for (;;) {
      const r = await pageRequest(summaries, asked);
      if (r.messages.length === 0) break;
      const end = endOf(r, asked);
      const keys = responseKeys(r);
      const held = await store.holds(keys);
      const missing = held.filter((h) => !h).length;
      stats.syncChecked += keys.length;
      stats.syncMissing += missing;
      let from = asked;
      for (let fetched = 0; missing > 0 && fetched < keys.length; ) {
        const page = await pageRequest(full, from, keys.length - fetched);
        if (page.messages.length === 0) break; // removed at the peer since (retention)
        await storePage(s, page);
        fetched += page.messages.length;
        from = endOf(page, from);
      }
      asked = end;
      progress(s, end);
    }
    await save();
  };

  /** A standard Waku store peer: forward by sender time from the newest envelope minus the window. */
  const walkSenderTime = async (s: PeerState, session: StoreSession) => {
    const newest = await store.scan({ direction: "desc", limit: 1, endTimeNs: now() + windowNs });
    const ts = newest[0]?.timestampNs;
    const startTime = ts === undefined ? 0n : ts > windowNs ? ts - windowNs : 0n;
    let cursor: Index | undefined;
    await walk(
      s,
      query(session, { startTime, size: MAX_STORE_PAGE_SIZE }),
      (r) => {
        const next = r.pagingInfo?.cursor;
        if (r.messages.length === 0 || next === undefined) return undefined;
        if (!after(cursor, next)) throw new Error("store peer returned a cursor that does not advance");
        cursor = next;
        return query(session, { startTime, cursor, size: MAX_STORE_PAGE_SIZE });
      },
      () => {},
    );
  };

  const runPass = async (s: PeerState): Promise<void> => {
    const key = s.peer.toString();
    stats.syncStarted++;
    stats.syncActive++;
    s.status = { ...s.status, state: "running", mode: s.mode, envelopes: 0, pages: 0 };
    delete s.status.error;
    const began = Date.now();
    logger.debug({ peer: key, mode: s.mode }, "history sync pass started");
    const protocol = s.mode === "received" ? RECEIVED_SYNC_PROTOCOL : WAKU_STORE_PROTOCOL;
    const counted = (bytes: number) => {
      stats.syncBytes += bytes;
    };
    const session = new StoreSession(dialer, s.peer, protocol, counted);
    const repair = s.mode === "received" && s.summaries && s.caughtUp;
    s.status.repair = repair;
    const summaries = repair
      ? new StoreSession(dialer, s.peer, RECEIVED_DIGESTS_PROTOCOL, counted)
      : undefined;
    try {
      if (summaries !== undefined) await walkSummaries(s, summaries, session);
      else if (s.mode === "received") await walkReceived(s, session);
      else await walkSenderTime(s, session);
      if (s.mode === "received") s.caughtUp = true;
      s.status.state = "done";
      s.status.passes++;
      stats.syncCompleted++;
      // Quiet passes (the periodic ones that found nothing) stay at debug level.
      logger[s.status.envelopes > 0 ? "info" : "debug"](
        { peer: key, envelopes: s.status.envelopes, pages: s.status.pages, ms: Date.now() - began },
        "history sync done",
      );
    } catch (err) {
      stats.syncFailed++;
      s.status.state = "failed";
      s.status.error = (err as Error).message;
      await save();
      throw err;
    } finally {
      stats.syncActive--;
      await Promise.all([session.close(), summaries?.close()]);
    }
  };

  /** The next periodic pass of a connected peer. */
  const schedule = (s: PeerState) => {
    clearTimeout(s.timer);
    if (!s.connected || stopped) return;
    s.timer = setTimeout(() => void launch(s).catch(() => {}), intervalMs);
    s.timer.unref();
  };

  /** One pass, retried with backoff while the peer stays connected; then the next is planned. */
  const launch = (s: PeerState): Promise<void> => {
    if (s.running !== undefined) return s.running;
    clearTimeout(s.timer);
    s.status.state = "queued";
    const p = pRetry(
      () =>
        passes.add(async () => {
          if (stopped) throw new AbortError("sync stopped");
          await runPass(s);
        }) as Promise<void>,
      {
        retries: SYNC_MAX_RETRIES,
        factor: 2,
        minTimeout: Math.min(SYNC_RETRY_MS, intervalMs),
        maxTimeout: intervalMs,
        signal: s.connection.signal,
        onFailedAttempt: (err) => {
          if (!stopped && s.connected) {
            logger.warn(
              { peer: s.peer.toString(), err: err.message, retriesLeft: err.retriesLeft },
              "history sync failed",
            );
          }
        },
      },
    );
    s.running = p;
    p.catch(() => {}).finally(() => {
      s.running = undefined;
      schedule(s);
    });
    return p;
  };

  return {
    async start() {
      await load();
      logger.info({ knownPeers: positions.size }, "history sync ready");
    },
    async stop() {
      stopped = true;
      abort.abort();
      for (const s of peers.values()) {
        clearTimeout(s.timer);
        s.connection.abort(new AbortError("sync stopped"));
      }
      // Running passes end promptly once aborted; never let a stuck peer hold up shutdown.
      const settled = Promise.allSettled([...peers.values()].map((s) => s.running));
      await Promise.race([settled, new Promise((r) => setTimeout(r, 5000).unref())]);
      await save();
      await saving;
    },
    peerConnected(peer, protocols) {
      const received = protocols.includes(RECEIVED_SYNC_PROTOCOL);
      if (!received && !protocols.includes(WAKU_STORE_PROTOCOL)) return;
      const s = stateOf(peer);
      s.mode = received ? "received" : "sender-time";
      s.summaries = protocols.includes(RECEIVED_DIGESTS_PROTOCOL);
      if (s.connected || stopped) return;
      s.connected = true;
      // What happened while the connection was down is fetched whole, not checked by summaries.
      s.caughtUp = false;
      s.connection = new AbortController();
      void launch(s).catch(() => {});
    },
    peerDisconnected(peer) {
      const s = peers.get(peer.toString());
      if (s === undefined) return;
      s.connected = false;
      s.connection.abort(new AbortError("peer disconnected"));
      clearTimeout(s.timer);
    },
    async syncNow(peer) {
      const s = stateOf(peer);
      if (s.running !== undefined) await s.running.catch(() => {});
      await launch(s);
    },
    status() {
      return [...peers.values()].map((s) => ({ ...s.status }));
    },
  };
}
