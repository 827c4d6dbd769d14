/**
 * History sync over Waku store: when a store-capable peer connects, page FORWARD through what it
 * holds since this node's newest envelope minus a safety window, and insert it through the ingest
 * path (which validates and de-duplicates). One page is held at a time (plus the next one in
 * flight). Progress is persisted so an interrupted sync resumes where it stopped.
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
  PagingInfo_Direction,
  PagingInfoSchema,
} from "@xmtp-ts/proto/waku";
import type { Logger } from "pino";
import type { Store } from "../store/types.js";
import type { RelayStats } from "./metrics.js";
import { MAX_STORE_PAGE_SIZE, responseEnvelopes, StoreSession, type StreamDialer } from "./store-protocol.js";
import { WAKU_PUBSUB_TOPIC } from "./waku-message.js";

/** Default safety window subtracted from the newest stored timestamp: 20 s. */
export const SYNC_WINDOW_NS = 20_000_000_000n;
/** Syncs running at once (the reference resume asks up to 5 peers). */
export const MAX_CONCURRENT_SYNCS = 5;
/** A single page request that takes longer than this fails the sync. */
export const SYNC_PAGE_TIMEOUT_MS = 30_000;
/** Envelopes inserted per ingest call (one store transaction); pages are buffered up to this. */
export const SYNC_BATCH_ENVELOPES = 1_000;
/** …or up to this many payload bytes, whichever comes first. */
export const SYNC_BATCH_BYTES = 8 * 1_048_576;
/** Time slices of one sync fetched in parallel, each on its own stream. */
export const SYNC_SLICES = 4;
/** Retries of a failed sync while the peer stays connected. */
export const SYNC_MAX_RETRIES = 5;

export interface SyncOptions {
  dialer: StreamDialer;
  store: Store;
  /** The relay-in path: validates, stores with dedupe, dispatches new envelopes. */
  ingest: (envelopes: Envelope[]) => Promise<unknown>;
  logger: Logger;
  stats: RelayStats;
  /** JSON file for resumable progress; in memory only when absent. */
  stateFile?: string | undefined;
  windowNs?: bigint | undefined;
  pageSize?: number | undefined;
  /** Envelopes per ingest call (default SYNC_BATCH_ENVELOPES). */
  batchSize?: number | undefined;
  /** Time slices fetched in parallel (default SYNC_SLICES; 1 = one sequential walk). */
  slices?: number | undefined;
  /** Wall clock in ns (tests). */
  nowNs?: (() => bigint) | undefined;
}

export interface PeerSyncStatus {
  peer: string;
  state: "running" | "done" | "failed" | "queued";
  envelopes: number;
  pages: number;
  lastTimestampNs?: string;
  error?: string;
}

export interface SyncManager {
  /** Computes the starting point from the store and loads persisted progress. */
  start(): Promise<void>;
  /** Aborts running syncs and waits for them. */
  stop(): Promise<void>;
  /** A peer speaking the store protocol is connected: sync from it unless already synced. */
  peerConnected(peer: PeerId): void;
  /** All connections to a peer closed. */
  peerDisconnected(peer: PeerId): void;
  /** Syncs from `peer` now (even if synced before) and resolves when done; rejects on failure. */
  syncNow(peer: PeerId): Promise<void>;
  /** Per-peer status for health and logs. */
  status(): PeerSyncStatus[];
}

interface PeerState {
  peer: PeerId;
  connected: boolean;
  completed: boolean;
  /** Local clock (ns) when the peer disconnected after a completed sync. */
  syncedThroughNs?: bigint;
  running?: Promise<void> | undefined;
  queued: boolean;
  retries: number;
  retryTimer?: NodeJS.Timeout | undefined;
  status: PeerSyncStatus;
}

const wallNs = () => BigInt(Date.now()) * 1_000_000n;

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** True when cursor `b` is strictly after `a` in (sender_time, digest) order. */
function after(a: Index | undefined, b: Index): boolean {
  if (a === undefined) return true;
  if (b.senderTime !== a.senderTime) return b.senderTime > a.senderTime;
  return Buffer.compare(b.digest, a.digest) > 0;
}

export function createSyncManager(opts: SyncOptions): SyncManager {
  const { dialer, store, ingest, logger, stats } = opts;
  const windowNs = opts.windowNs ?? SYNC_WINDOW_NS;
  const pageSize = opts.pageSize ?? MAX_STORE_PAGE_SIZE;
  const batchSize = Math.max(1, opts.batchSize ?? SYNC_BATCH_ENVELOPES);
  const slices = Math.max(1, Math.min(16, opts.slices ?? SYNC_SLICES));
  const now = opts.nowNs ?? wallNs;
  const peers = new Map<string, PeerState>();
  /** Persisted: peer → sender time (ns) up to which an unfinished sync had inserted. */
  const pending = new Map<string, bigint>();
  let floorNs = 0n;
  let running = 0;
  const waiting: (() => void)[] = [];
  const abort = new AbortController();
  let saving: Promise<void> = Promise.resolve();
  let stopped = false;

  const save = (): Promise<void> => {
    const file = opts.stateFile;
    if (file === undefined) return Promise.resolve();
    const body = JSON.stringify({
      version: 1,
      pending: Object.fromEntries([...pending].map(([p, ts]) => [p, ts.toString()])),
    });
    saving = saving
      .then(async () => {
        await mkdir(dirname(file), { recursive: true });
        const tmp = `${file}.${randomUUID()}.tmp`;
        await writeFile(tmp, body);
        await rename(tmp, file);
      })
      .catch((err: Error) => logger.warn({ err: err.message }, "saving sync progress failed"));
    return saving;
  };

  const load = async () => {
    if (opts.stateFile === undefined) return;
    let text: string;
    try {
      text = await readFile(opts.stateFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as { pending?: Record<string, string> };
      for (const [p, ts] of Object.entries(parsed.pending ?? {})) {
        if (/^\d{1,20}$/.test(ts)) pending.set(p, BigInt(ts));
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, "ignoring unreadable sync progress file");
    }
  };

  const acquire = async () => {
    if (running < MAX_CONCURRENT_SYNCS) {
      running++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  const stateOf = (peer: PeerId): PeerState => {
    const key = peer.toString();
    let s = peers.get(key);
    if (s === undefined) {
      s = {
        peer,
        connected: false,
        completed: false,
        queued: false,
        retries: 0,
        status: { peer: key, state: "queued", envelopes: 0, pages: 0 },
      };
      peers.set(key, s);
    }
    return s;
  };

  /** The sender time to start from: the safety floor, lowered to any unfinished sync's position. */
  const startFor = (s: PeerState): bigint => {
    let start = s.syncedThroughNs !== undefined ? s.syncedThroughNs - windowNs : floorNs;
    if (start < 0n) start = 0n;
    for (const pos of pending.values()) start = min(start, pos);
    return start;
  };

  const query = (
    session: StoreSession,
    range: { start: bigint; end?: bigint | undefined },
    cursor: Index | undefined,
    direction = PagingInfo_Direction.FORWARD,
    size = pageSize,
  ) => {
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(SYNC_PAGE_TIMEOUT_MS)]);
    const q = create(HistoryQuerySchema, {
      pubsubTopic: WAKU_PUBSUB_TOPIC,
      startTime: range.start,
      ...(range.end !== undefined ? { endTime: range.end } : {}),
      pagingInfo: create(PagingInfoSchema, {
        pageSize: BigInt(size),
        direction,
        ...(cursor !== undefined ? { cursor } : {}),
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
   * Splits [start, ∞) into time slices fetched in parallel (the page round trip, not the inserts,
   * bounds a single sequential walk). The bounds come from the peer's oldest and newest envelopes;
   * the last slice is open-ended so envelopes arriving meanwhile are included.
   */
  const planSlices = async (session: StoreSession, startNs: bigint) => {
    const single = [{ start: startNs, end: undefined as bigint | undefined }];
    if (slices <= 1) return single;
    const oldest = await query(session, { start: startNs }, undefined, PagingInfo_Direction.FORWARD, 1);
    const newest = await query(session, { start: startNs }, undefined, PagingInfo_Direction.BACKWARD, 1);
    const lo = oldest.messages[0]?.timestamp;
    const hi = newest.messages[0]?.timestamp;
    if (lo === undefined || hi === undefined || hi - lo < BigInt(slices)) return single;
    const width = (hi - lo) / BigInt(slices);
    return Array.from({ length: slices }, (_, i) => ({
      start: i === 0 ? startNs : lo + width * BigInt(i),
      end: i === slices - 1 ? undefined : lo + width * BigInt(i + 1) - 1n,
    }));
  };

  const runSync = async (s: PeerState): Promise<void> => {
    const key = s.peer.toString();
    const startNs = startFor(s);
    pending.set(key, pending.get(key) ?? startNs);
    await save();
    stats.syncStarted++;
    stats.syncActive++;
    s.status = { peer: key, state: "running", envelopes: 0, pages: 0 };
    const began = Date.now();
    logger.info({ peer: key, fromNs: startNs.toString() }, "history sync started");
    let lastSave = Date.now();
    const sessions: StoreSession[] = [new StoreSession(dialer, s.peer)];
    // Pages are buffered into batches (one store transaction each) inserted strictly one after
    // another while the slices keep fetching. Memory: the buffer (≤ one batch plus one page per
    // slice), the batch being inserted, and one page in flight per slice.
    let buffer: { env: Envelope; slice: number }[] = [];
    let bufferBytes = 0;
    let chain: Promise<void> = Promise.resolve();
    let plan: { start: bigint; end?: bigint | undefined }[] = [];
    /** Per slice: sender time reached by committed inserts, and whether the slice is finished. */
    const reached: bigint[] = [];
    const finished: boolean[] = [];
    const resumePoint = (): bigint => {
      for (let i = 0; i < plan.length; i++) if (!finished[i]) return reached[i] as bigint;
      return reached[reached.length - 1] ?? startNs;
    };
    const flush = (): Promise<void> => {
      if (buffer.length === 0) return chain;
      const batch = buffer;
      buffer = [];
      bufferBytes = 0;
      chain = chain.then(async () => {
        await ingest(batch.map((b) => b.env));
        for (const b of batch)
          if (b.env.timestampNs > (reached[b.slice] as bigint)) reached[b.slice] = b.env.timestampNs;
        const lastTs = batch[batch.length - 1]?.env.timestampNs ?? 0n;
        stats.syncEnvelopes += batch.length;
        stats.syncLastTimestampNs = lastTs;
        s.status.envelopes += batch.length;
        s.status.lastTimestampNs = lastTs.toString();
        pending.set(key, resumePoint());
        if (Date.now() - lastSave > 1000) {
          lastSave = Date.now();
          void save();
          logger.info(
            { peer: key, envelopes: s.status.envelopes, atNs: lastTs.toString() },
            "history sync progress",
          );
        }
      });
      return chain;
    };
    const walk = async (slice: number, session: StoreSession) => {
      const range = plan[slice] as { start: bigint; end?: bigint | undefined };
      let cursor: Index | undefined;
      let next: Promise<HistoryResponse> | undefined = query(session, range, undefined);
      while (next !== undefined) {
        const response: HistoryResponse = await next;
        next = undefined;
        const nextCursor = response.pagingInfo?.cursor;
        if (response.messages.length > 0 && nextCursor !== undefined) {
          if (!after(cursor, nextCursor))
            throw new Error("store peer returned a cursor that does not advance");
          cursor = nextCursor;
          // Ask for the next page while this one is buffered or inserted.
          next = query(session, range, cursor);
          next.catch(() => {});
        }
        const { envelopes, rejected } = responseEnvelopes(response);
        if (rejected.length > 0) {
          stats.syncRejected += rejected.length;
          logger.warn(
            { peer: key, dropped: rejected.length, reason: rejected[0]?.detail },
            "dropped envelopes over the API limits from a store response",
          );
        }
        for (const env of envelopes) {
          buffer.push({ env, slice });
          bufferBytes += env.message.length;
        }
        if (buffer.length >= batchSize || bufferBytes >= SYNC_BATCH_BYTES) {
          // Wait for the previous batch only: this one is inserted while the next pages arrive.
          const previous = chain;
          void flush().catch(() => {});
          await previous;
        }
        stats.syncPages++;
        s.status.pages++;
      }
      // Finished only once everything it buffered is committed.
      await flush();
      finished[slice] = true;
    };
    try {
      plan = await planSlices(sessions[0] as StoreSession, startNs);
      for (const r of plan) {
        reached.push(r.start);
        finished.push(false);
      }
      while (sessions.length < plan.length) sessions.push(new StoreSession(dialer, s.peer));
      const results = await Promise.allSettled(plan.map((_, i) => walk(i, sessions[i] as StoreSession)));
      const failure = results.find((r) => r.status === "rejected");
      if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
      await flush();
      // A full pass from startNs covers every unfinished sync positioned at or after it.
      pending.delete(key);
      for (const [p, pos] of pending) if (pos >= startNs) pending.delete(p);
      await save();
      s.completed = true;
      s.retries = 0;
      s.status.state = "done";
      stats.syncCompleted++;
      logger.info(
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
      await chain.catch(() => {});
      await Promise.all(sessions.map((x) => x.close()));
    }
  };

  const launch = (s: PeerState): Promise<void> => {
    if (s.running !== undefined) return s.running;
    clearTimeout(s.retryTimer);
    s.status.state = "queued";
    const p = (async () => {
      await acquire();
      try {
        if (stopped) throw new Error("sync stopped");
        await runSync(s);
      } finally {
        release();
      }
    })();
    s.running = p;
    p.catch((err: Error) => {
      if (stopped) return;
      logger.warn({ peer: s.peer.toString(), err: err.message }, "history sync failed");
      if (s.connected && s.retries < SYNC_MAX_RETRIES) {
        const delay = 1000 * 2 ** s.retries++;
        s.retryTimer = setTimeout(() => {
          if (s.connected && !s.completed && !stopped) void launch(s).catch(() => {});
        }, delay);
        s.retryTimer.unref();
      }
    }).finally(() => {
      s.running = undefined;
    });
    return p;
  };

  return {
    async start() {
      await load();
      const newest = await store.scan({
        direction: "desc",
        limit: 1,
        endTimeNs: now() + windowNs,
      });
      const ts = newest[0]?.timestampNs;
      floorNs = ts === undefined ? 0n : ts > windowNs ? ts - windowNs : 0n;
      logger.info(
        { fromNs: floorNs.toString(), resumePeers: pending.size },
        ts === undefined ? "history sync will fetch everything" : "history sync floor set",
      );
    },
    async stop() {
      stopped = true;
      abort.abort();
      for (const s of peers.values()) clearTimeout(s.retryTimer);
      // Running syncs end promptly once aborted; never let a stuck peer hold up shutdown.
      const settled = Promise.allSettled([...peers.values()].map((s) => s.running));
      await Promise.race([settled, new Promise((r) => setTimeout(r, 5000).unref())]);
      await saving;
    },
    peerConnected(peer) {
      const s = stateOf(peer);
      s.connected = true;
      if (s.completed || s.running !== undefined || stopped) return;
      void launch(s).catch(() => {});
    },
    peerDisconnected(peer) {
      const s = peers.get(peer.toString());
      if (s === undefined) return;
      s.connected = false;
      clearTimeout(s.retryTimer);
      s.retries = 0;
      if (s.completed) s.syncedThroughNs = now();
      s.completed = false;
    },
    async syncNow(peer) {
      const s = stateOf(peer);
      if (s.running !== undefined) await s.running.catch(() => {});
      s.completed = false;
      await launch(s);
    },
    status() {
      return [...peers.values()].map((s) => ({ ...s.status }));
    },
  };
}
