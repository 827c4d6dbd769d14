/**
 * Persisting known conversations between runs, so a client that starts again lists at once and
 * only reads invitations and intros that arrived since (the reference keystore's
 * `persistConversations`). The app supplies the storage ({@link ConversationStore}: IndexedDB,
 * a file, …); what is stored is one snapshot encrypted under a key derived from the identity key,
 * so it is worthless without the user's keys, and a damaged or foreign snapshot is ignored.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CiphertextSchema, type ConsentProofPayload, ConsentProofPayloadSchema } from "@xmtp-ts/proto";
import { isAddress, isValidTopic, toChecksumAddress } from "@xmtp-ts/protocol";
import { decrypt, encrypt, fromBase64, hkdfSha256, toBase64 } from "../crypto/index.js";

/** Where snapshots are kept, by key. Values are opaque bytes. */
export interface ConversationStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
}

/** A store in memory (for tests, or to carry state between clients in one process). */
export function memoryConversationStore(): ConversationStore {
  const m = new Map<string, Uint8Array>();
  return {
    get: async (k) => m.get(k),
    set: async (k, v) => {
      m.set(k, v.slice());
    },
  };
}

/** The parts of Web Storage (`localStorage`, `sessionStorage`) a store needs. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * A store over Web Storage (base64 values), for browser apps: `webStorageConversationStore(localStorage)`.
 * A full storage makes writes fail, which only costs the next start a full listing.
 */
export function webStorageConversationStore(storage: WebStorageLike): ConversationStore {
  return {
    get: async (k) => {
      const v = storage.getItem(k);
      if (v === null) return undefined;
      try {
        return fromBase64(v);
      } catch {
        return undefined;
      }
    },
    set: async (k, v) => storage.setItem(k, toBase64(v)),
  };
}

/** Largest snapshot read back (about 100k conversations). */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

export interface SnapshotV2 {
  topic: string;
  peerAddress: string;
  createdMs: number;
  keyMaterial: Uint8Array;
  context: { conversationId: string; metadata: Record<string, string> } | undefined;
  consentProof: ConsentProofPayload | undefined;
}

export interface Snapshot {
  inviteSyncNs: bigint | undefined;
  introSyncNs: bigint | undefined;
  v2: SnapshotV2[];
  v1: { peerAddress: string; createdMs: number }[];
  /**
   * Invite and intro envelopes already handled (`<timestampNs>:<sha256 hex>`) that the next
   * listing will read again, i.e. those inside the overlap window before the last listing: a
   * restarted client skips them instead of opening them again.
   */
  seenInvites?: string[] | undefined;
  seenIntros?: string[] | undefined;
}

/** An envelope's identity for the seen sets: `<timestampNs>:<sha256 hex of its message>`. */
const SEEN_KEY = /^\d{1,20}:[0-9a-f]{64}$/;

const SALT = new TextEncoder().encode("XMTP_TS_CONVERSATION_SNAPSHOT");

/** The store key of an identity's snapshot. */
export function snapshotKey(address: string): string {
  return `xmtp-ts/conversations/v1/${toChecksumAddress(address)}`;
}

async function secretFor(identityPrivateKey: Uint8Array): Promise<Uint8Array> {
  return hkdfSha256(identityPrivateKey, SALT, new Uint8Array(0), 32);
}

/** Encodes and encrypts a snapshot; the address is bound in as associated data. */
export async function sealSnapshot(
  identityPrivateKey: Uint8Array,
  address: string,
  s: Snapshot,
): Promise<Uint8Array> {
  const json = JSON.stringify({
    version: 1,
    inviteSyncNs: s.inviteSyncNs?.toString(),
    introSyncNs: s.introSyncNs?.toString(),
    v2: s.v2.map((c) => ({
      topic: c.topic,
      peerAddress: c.peerAddress,
      createdMs: c.createdMs,
      keyMaterial: toBase64(c.keyMaterial),
      context: c.context,
      consentProof: c.consentProof
        ? toBase64(toBinary(ConsentProofPayloadSchema, c.consentProof))
        : undefined,
    })),
    v1: s.v1,
    seenInvites: s.seenInvites,
    seenIntros: s.seenIntros,
  });
  const ct = await encrypt(
    new TextEncoder().encode(json),
    await secretFor(identityPrivateKey),
    new TextEncoder().encode(snapshotKey(address)),
  );
  return toBinary(CiphertextSchema, ct);
}

/**
 * Decrypts and validates a snapshot; undefined when it is too large, damaged, made for another
 * identity or holds anything that fails the checks a fresh invitation would pass.
 */
export async function openSnapshot(
  identityPrivateKey: Uint8Array,
  address: string,
  bytes: Uint8Array,
): Promise<Snapshot | undefined> {
  if (bytes.length > MAX_SNAPSHOT_BYTES) return undefined;
  try {
    const plain = await decrypt(
      fromBinary(CiphertextSchema, bytes),
      await secretFor(identityPrivateKey),
      new TextEncoder().encode(snapshotKey(address)),
    );
    const j = JSON.parse(new TextDecoder().decode(plain));
    if (j?.version !== 1 || !Array.isArray(j.v2) || !Array.isArray(j.v1)) return undefined;
    const ns = (v: unknown) => (typeof v === "string" && /^\d{1,20}$/.test(v) ? BigInt(v) : undefined);
    const ms = (v: unknown) => {
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new Error("bad time");
      return v;
    };
    const addr = (v: unknown) => {
      if (typeof v !== "string" || !isAddress(v)) throw new Error("bad address");
      return toChecksumAddress(v);
    };
    const v2 = j.v2.map((c: Record<string, unknown>): SnapshotV2 => {
      if (typeof c.topic !== "string" || !isValidTopic(c.topic) || !c.topic.startsWith("/xmtp/0/m-"))
        throw new Error("bad topic");
      const keyMaterial = fromBase64(String(c.keyMaterial));
      if (keyMaterial.length !== 32) throw new Error("bad key material");
      const ctx = c.context as { conversationId?: unknown; metadata?: unknown } | undefined;
      const metadata: Record<string, string> = {};
      if (ctx?.metadata && typeof ctx.metadata === "object")
        for (const [k, v] of Object.entries(ctx.metadata)) metadata[k] = String(v);
      return {
        topic: c.topic,
        peerAddress: addr(c.peerAddress),
        createdMs: ms(c.createdMs),
        keyMaterial,
        context: ctx ? { conversationId: String(ctx.conversationId ?? ""), metadata } : undefined,
        consentProof:
          typeof c.consentProof === "string"
            ? fromBinary(ConsentProofPayloadSchema, fromBase64(c.consentProof))
            : undefined,
      };
    });
    const v1 = j.v1.map((c: Record<string, unknown>) => ({
      peerAddress: addr(c.peerAddress),
      createdMs: ms(c.createdMs),
    }));
    const seen = (v: unknown): string[] | undefined => {
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every((k) => typeof k === "string" && SEEN_KEY.test(k)))
        throw new Error("bad seen envelopes");
      return v;
    };
    return {
      inviteSyncNs: ns(j.inviteSyncNs),
      introSyncNs: ns(j.introSyncNs),
      v2,
      v1,
      seenInvites: seen(j.seenInvites),
      seenIntros: seen(j.seenIntros),
    };
  } catch {
    return undefined;
  }
}
