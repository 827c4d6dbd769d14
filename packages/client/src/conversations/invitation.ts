/**
 * V2 invitations (protocol.md §8): the deterministic topic and key material, sealing an
 * invitation for a peer, the two-envelope publish, and opening a received invitation with every
 * check the reference makes (plus explicit size limits).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Ciphertext,
  type ConsentProofPayload,
  type Envelope,
  EnvelopeSchema,
  type InvitationV1,
  type InvitationV1_Context,
  InvitationV1Schema,
  SealedInvitationHeaderV1Schema,
  SealedInvitationSchema,
  type SignedPublicKey,
  type SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import {
  buildTopic,
  createIdentityText,
  eip191Hash,
  isValidTopic,
  MAX_TOPIC_BYTES,
  publicKeyToAddress,
  secp256k1Backend,
  signedPublicKeyBytes,
} from "@xmtp-ts/protocol";
import { type InvitationErrorReason, XmtpError } from "../errors.js";
import {
  type Ecdh,
  findPreKey,
  NoMatchingPreKeyError,
  type OwnKeys,
  type PeerKeys,
  sharedSecret3dh,
  threeDhPairs,
} from "../keys/own-keys.js";
import { type CurveBackend, type CurveJob, type CurveResult, runCurveJob } from "./curve-jobs.js";
import {
  bytesEqual,
  concatBytes,
  decryptCiphertext,
  encryptCiphertext,
  hkdfSha256,
  hmacSha256,
  sha256,
  toHex,
} from "./primitives.js";

/** Largest `SealedInvitation` accepted from the network. */
export const MAX_SEALED_INVITATION_BYTES = 64 * 1024;
/** Largest `SealedInvitationHeaderV1` accepted (two bundles are ~600 bytes). */
export const MAX_INVITATION_HEADER_BYTES = 8 * 1024;
/** Most `context.metadata` entries accepted in an invitation. */
export const MAX_INVITATION_METADATA_ENTRIES = 64;

export type { InvitationErrorReason };

const INVITE_SALT = new TextEncoder().encode("__XMTP__INVITATION__SALT__XMTP__");
const utf8 = (s: string) => new TextEncoder().encode(s);

/** A received invitation that failed a check (code `"invalid-invitation"`); `reason` says which. */
export class InvitationError extends XmtpError<"invalid-invitation"> {
  override readonly name: string = "InvitationError";
  constructor(
    readonly reason: InvitationErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("invalid-invitation", message, { reason }, options);
  }
}

/** Context of a V2 conversation (`InvitationV1.Context`). */
export interface ConversationContext {
  conversationId: string;
  metadata: Record<string, string>;
}

/** The 65-byte keys of a SignedPublicKeyBundle, with lengths and prefixes checked. */
export function peerKeysFromSignedBundle(b: SignedPublicKeyBundle | undefined): PeerKeys {
  if (!b?.identityKey || !b.preKey) throw new InvitationError("bad-key", "bundle is missing a key");
  return {
    identity: checkedKeyBytes(b.identityKey, "identity key"),
    preKey: checkedKeyBytes(b.preKey, "pre-key"),
  };
}

function checkedKeyBytes(k: SignedPublicKey, what: string): Uint8Array {
  let pub: Uint8Array;
  try {
    pub = signedPublicKeyBytes(k);
  } catch (cause) {
    throw new InvitationError("bad-key", `${what} is undecodable`, { cause });
  }
  if (pub.length !== 65 || pub[0] !== 4)
    throw new InvitationError("bad-key", `${what} expected 65 bytes 04‖X‖Y, got ${pub.length}`);
  const sig = k.signature?.union;
  if (sig?.case === "ecdsaCompact" || sig?.case === "walletEcdsaCompact") {
    if (sig.value.bytes.length !== 64)
      throw new InvitationError(
        "bad-key",
        `${what} signature expected 64 bytes, got ${sig.value.bytes.length}`,
      );
    if (sig.value.recovery > 1)
      throw new InvitationError(
        "bad-key",
        `${what} signature recovery expected 0 or 1, got ${sig.value.recovery}`,
      );
  } else {
    throw new InvitationError("bad-key", `${what} is not signed`);
  }
  return pub;
}

/**
 * Deterministic topic and key material (protocol.md §8.2) for a conversation between `own` and
 * the peer bundle whose wallet is `peerAddress`. The smaller address plays the recipient role.
 */
export async function deriveInvitationSecrets(
  own: OwnKeys,
  peer: SignedPublicKeyBundle,
  peerAddress: string,
  conversationId?: string,
  ecdh?: Ecdh,
): Promise<{ topic: string; keyMaterial: Uint8Array }> {
  const peerKeys = peerKeysFromSignedBundle(peer);
  const myPre = own.preKeys[0];
  if (!myPre) throw new NoMatchingPreKeyError();
  const secret = sharedSecret3dh(own, peerKeys, myPre.publicKey, own.address < peerAddress, ecdh);
  const sorted = [own.address, peerAddress].sort();
  const topicId = toHex(await hmacSha256(secret, utf8(`${conversationId ?? ""}${sorted[0]},${sorted[1]}`)));
  const keyMaterial = await hkdfSha256(secret, INVITE_SALT, utf8(`0|${sorted[0]}|${sorted[1]}`), 32);
  return { topic: buildTopic.conversationV2(topicId), keyMaterial };
}

/** Builds the InvitationV1 for a new deterministic conversation with the peer. */
export async function createInvitation(
  own: OwnKeys,
  peer: SignedPublicKeyBundle,
  peerAddress: string,
  context?: Partial<ConversationContext>,
  consentProof?: ConsentProofPayload,
  ecdh?: Ecdh,
): Promise<InvitationV1> {
  const { topic, keyMaterial } = await deriveInvitationSecrets(
    own,
    peer,
    peerAddress,
    context?.conversationId,
    ecdh,
  );
  return create(InvitationV1Schema, {
    topic,
    encryption: { case: "aes256GcmHkdfSha256", value: { keyMaterial } },
    ...(context
      ? {
          context: {
            conversationId: context.conversationId ?? "",
            metadata: { ...(context.metadata ?? {}) },
          },
        }
      : {}),
    ...(consentProof ? { consentProof } : {}),
  });
}

/**
 * Seals an invitation for `recipient` (protocol.md §8.3): the header holds both bundles and
 * `createdNs`; the ciphertext uses the sender-role 3DH secret with the header bytes as AAD.
 * Returns the encoded `SealedInvitation`.
 */
export async function sealInvitation(
  own: OwnKeys,
  recipient: SignedPublicKeyBundle,
  invitation: InvitationV1,
  createdNs: bigint,
  ecdh?: Ecdh,
): Promise<Uint8Array> {
  const myPre = own.preKeys[0];
  if (!myPre) throw new NoMatchingPreKeyError();
  const headerBytes = toBinary(
    SealedInvitationHeaderV1Schema,
    create(SealedInvitationHeaderV1Schema, { sender: own.signedBundle, recipient, createdNs }),
  );
  const secret = sharedSecret3dh(own, peerKeysFromSignedBundle(recipient), myPre.publicKey, false, ecdh);
  const ciphertext = await encryptCiphertext(toBinary(InvitationV1Schema, invitation), secret, headerBytes);
  return toBinary(
    SealedInvitationSchema,
    create(SealedInvitationSchema, { version: { case: "v1", value: { headerBytes, ciphertext } } }),
  );
}

/** The two envelopes of one invite publish: to the peer's and to one's own invite topic. */
export function invitationEnvelopes(
  sealed: Uint8Array,
  createdNs: bigint,
  peerAddress: string,
  ownAddress: string,
): Envelope[] {
  return [peerAddress, ownAddress].map((a) =>
    create(EnvelopeSchema, { contentTopic: buildTopic.invite(a), timestampNs: createdNs, message: sealed }),
  );
}

/** An invitation that passed every check. */
export interface OpenedInvitation {
  topic: string;
  keyMaterial: Uint8Array;
  context: ConversationContext | undefined;
  consentProof: ConsentProofPayload | undefined;
  createdNs: bigint;
  peerAddress: string;
  /** The peer's V2 bundle as carried in the header. */
  peerBundle: SignedPublicKeyBundle;
  /** True when this client sent the invitation. */
  isSender: boolean;
}

/** Per-call caches a batch of invitations can share (pre-key checks, wallet recoveries). */
export interface OpenCache {
  ecdh?: Ecdh;
  verified?: Map<string, string>;
}

/**
 * Opens an invite envelope (protocol.md §8.4 and §8.5): topic, sizes, key lengths, header
 * timestamp = envelope timestamp, decryption by role, the peer's pre-key signature, a non-empty
 * topic and 32-byte key material, and the peer wallet from its V2 identity key. Throws
 * {@link InvitationError}.
 */
export async function openInvitation(
  own: OwnKeys,
  env: Envelope,
  cache?: OpenCache,
): Promise<OpenedInvitation> {
  const p = prepareInvitation(own, env, cache);
  return finishInvitation(p, runCurveJob(localCurve(cache), p.job), cache);
}

/**
 * Opens a batch of invite envelopes with the same checks as {@link openInvitation}; the curve work
 * runs through `run` (this thread by default; the curve workers when the caller has them). A
 * peer bundle met several times in the batch is checked once. Each result is the invitation or
 * its error.
 */
export async function openInvitations(
  own: OwnKeys,
  envs: Envelope[],
  cache: OpenCache = { verified: new Map() },
  run?: (jobs: CurveJob[], local: CurveBackend) => Promise<CurveResult[]>,
): Promise<(OpenedInvitation | InvitationError)[]> {
  cache.verified ??= new Map();
  const prepared: (PreparedInvitation | InvitationError)[] = [];
  // Bundles already being checked in this batch: later copies wait for that result.
  const checking = new Map<string, number>();
  const jobs: CurveJob[] = [];
  const firstCheck: (number | undefined)[] = [];
  for (const env of envs) {
    let p: PreparedInvitation;
    try {
      p = prepareInvitation(own, env, cache);
    } catch (err) {
      prepared.push(asInvitationError(err));
      firstCheck.push(undefined);
      continue;
    }
    let first: number | undefined;
    if (p.job.verify.length > 0 && p.cacheKey !== undefined) {
      first = checking.get(p.cacheKey);
      if (first === undefined) checking.set(p.cacheKey, prepared.length);
      else p.job = { ecdh: p.job.ecdh, verify: [] };
    }
    prepared.push(p);
    firstCheck.push(first);
    jobs.push(p.job);
  }
  const local = localCurve(cache);
  const results = run && !cache.ecdh ? await run(jobs, local) : jobs.map((j) => runCurveJob(local, j));
  const byIndex: (CurveResult | undefined)[] = [];
  let k = 0;
  for (const p of prepared) byIndex.push(p instanceof InvitationError ? undefined : results[k++]);
  const out: (OpenedInvitation | InvitationError)[] = [];
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!;
    if (p instanceof InvitationError) {
      out.push(p);
      continue;
    }
    let r = byIndex[i]!;
    const first = firstCheck[i];
    if (first !== undefined) {
      const f = byIndex[first]!;
      r = { ...r, verified: f.verified, recovered: f.recovered };
    }
    try {
      out.push(await finishInvitation(p, r, cache));
    } catch (err) {
      out.push(asInvitationError(err));
    }
  }
  return out;
}

function asInvitationError(err: unknown): InvitationError {
  return err instanceof InvitationError ? err : new InvitationError("malformed", String(err), { cause: err });
}

/** The curve backend of this thread, with the cache's ECDH when it brings one. */
function localCurve(cache?: OpenCache): CurveBackend {
  const b = secp256k1Backend();
  const ecdh = cache?.ecdh;
  return ecdh ? { verify: b.verify, recover: b.recover, ecdh } : b;
}

/** An invite envelope decoded and checked up to its curve work, which `job` describes. */
interface PreparedInvitation {
  header: ReturnType<typeof decodeSealed>["header"];
  headerBytes: Uint8Array;
  ciphertext: Ciphertext;
  isSender: boolean;
  peerBundle: SignedPublicKeyBundle;
  /** The peer bundle's key in `OpenCache.verified`. */
  cacheKey: string | undefined;
  /** Known from the cache: no signature work needed. */
  peerAddress: string | undefined;
  walletSigned: boolean;
  preKeyMissing: boolean;
  job: CurveJob;
}

function prepareInvitation(own: OwnKeys, env: Envelope, cache?: OpenCache): PreparedInvitation {
  if (!isValidTopic(env.contentTopic))
    throw new InvitationError(
      "invalid-envelope-topic",
      `invalid topic ${JSON.stringify(env.contentTopic.slice(0, 100))}`,
    );
  if (env.message.length > MAX_SEALED_INVITATION_BYTES)
    throw new InvitationError(
      "too-large",
      `sealed invitation is ${env.message.length} bytes, limit ${MAX_SEALED_INVITATION_BYTES}`,
    );
  let sealed: ReturnType<typeof decodeSealed>;
  try {
    sealed = decodeSealed(env.message);
  } catch (cause) {
    if (cause instanceof InvitationError) throw cause;
    throw new InvitationError("malformed", "undecodable sealed invitation", { cause });
  }
  const { header, headerBytes, ciphertext } = sealed;
  if (header.createdNs !== env.timestampNs)
    throw new InvitationError("timestamp-mismatch", "envelope and header timestamp mismatch");
  const senderKeys = peerKeysFromSignedBundle(header.sender);
  const recipientKeys = peerKeysFromSignedBundle(header.recipient);
  const isSender = bytesEqual(senderKeys.identity, own.identity.publicKey);
  const isRecipient = bytesEqual(recipientKeys.identity, own.identity.publicKey);
  if (isSender && isRecipient) throw new InvitationError("self-invitation", "invitation from self to self");
  if (!isSender && !isRecipient)
    throw new InvitationError("not-participant", "invitation is neither from nor to this identity");
  const peerBundle = (isSender ? header.recipient : header.sender) as SignedPublicKeyBundle;
  const peerKeys = isSender ? recipientKeys : senderKeys;
  const id = peerBundle.identityKey!;
  const pre = peerBundle.preKey!;
  const cacheKey = cache?.verified ? signedBundleKey(peerBundle) : undefined;
  const peerAddress = cacheKey !== undefined ? cache?.verified?.get(cacheKey) : undefined;
  const job: CurveJob = { ecdh: [], verify: [] };
  const walletSigned = id.signature?.union.case === "walletEcdsaCompact";
  if (peerAddress === undefined) {
    // The pre-key signature (ecdsa_compact by the identity key over sha256 of the pre-key bytes)
    // and the wallet's signature of the identity key (EIP-191 over the identity text).
    const preSig = pre.signature?.union;
    if (preSig?.case === "ecdsaCompact")
      job.verify.push([peerKeys.identity, sha256(pre.keyBytes), preSig.value.bytes]);
    const idSig = id.signature?.union;
    if (job.verify.length > 0 && idSig?.case === "walletEcdsaCompact")
      job.recover = [eip191Hash(createIdentityText(id.keyBytes)), idSig.value.bytes, idSig.value.recovery];
  }
  const myPreKeyPub = isSender ? senderKeys.preKey : recipientKeys.preKey;
  let preKeyMissing = false;
  try {
    job.ecdh = threeDhPairs(
      own.identity.privateKey,
      findPreKey(own, myPreKeyPub).privateKey,
      peerKeys,
      !isSender,
    );
  } catch (err) {
    if (!(err instanceof NoMatchingPreKeyError)) throw err;
    preKeyMissing = true;
  }
  return {
    header,
    headerBytes,
    ciphertext,
    isSender,
    peerBundle,
    cacheKey,
    peerAddress,
    walletSigned,
    preKeyMissing,
    job,
  };
}

async function finishInvitation(
  p: PreparedInvitation,
  r: CurveResult,
  cache?: OpenCache,
): Promise<OpenedInvitation> {
  let peerAddress = p.peerAddress;
  if (peerAddress === undefined) {
    if (!r.verified[0]) throw new InvitationError("bad-pre-key-signature", "peer pre-key signature invalid");
    if (!p.walletSigned) throw new InvitationError("not-wallet-signed", "key was not signed by a wallet");
    if (!r.recovered) throw new InvitationError("not-wallet-signed", "cannot recover the peer wallet");
    peerAddress = publicKeyToAddress(r.recovered);
    if (p.cacheKey !== undefined) cache?.verified?.set(p.cacheKey, peerAddress);
  }
  if (p.preKeyMissing)
    throw new InvitationError("no-matching-pre-key", "no matching pre-key", {
      cause: new NoMatchingPreKeyError(),
    });
  if (!r.dh) throw new InvitationError("bad-key", "ECDH failed");
  const secret = concatBytes(...r.dh);
  const { header, headerBytes, ciphertext, isSender, peerBundle } = p;
  let plain: Uint8Array;
  try {
    plain = await decryptCiphertext(ciphertext, secret, headerBytes);
  } catch (cause) {
    throw new InvitationError("decrypt-failed", `cannot decrypt invitation: ${(cause as Error).message}`, {
      cause,
    });
  }
  let inv: InvitationV1;
  try {
    inv = fromBinary(InvitationV1Schema, plain);
  } catch (cause) {
    throw new InvitationError("malformed", "undecodable invitation", { cause });
  }
  if (!inv.topic) throw new InvitationError("missing-topic", "invitation has no topic");
  if (
    new TextEncoder().encode(inv.topic).length > MAX_TOPIC_BYTES ||
    !isValidTopic(inv.topic) ||
    !inv.topic.startsWith("/xmtp/0/m-")
  )
    throw new InvitationError("invalid-topic", `invitation topic is not a V2 conversation topic`);
  if (inv.encryption.case !== "aes256GcmHkdfSha256" || inv.encryption.value.keyMaterial.length === 0)
    throw new InvitationError("missing-key-material", "invitation has no key material");
  const keyMaterial = inv.encryption.value.keyMaterial;
  if (keyMaterial.length !== 32)
    throw new InvitationError(
      "missing-key-material",
      `"key_material" expected 32 bytes, got ${keyMaterial.length}`,
    );
  const ctx = inv.context;
  if (ctx && Object.keys(ctx.metadata).length > MAX_INVITATION_METADATA_ENTRIES)
    throw new InvitationError(
      "too-large",
      `invitation metadata has more than ${MAX_INVITATION_METADATA_ENTRIES} entries`,
    );
  return {
    topic: inv.topic,
    keyMaterial,
    context: ctx ? contextOf(ctx) : undefined,
    consentProof: inv.consentProof,
    createdNs: header.createdNs,
    peerAddress,
    peerBundle,
    isSender,
  };
}

function contextOf(c: InvitationV1_Context): ConversationContext {
  return { conversationId: c.conversationId, metadata: { ...c.metadata } };
}

function decodeSealed(bytes: Uint8Array) {
  const sealed = fromBinary(SealedInvitationSchema, bytes);
  if (sealed.version.case !== "v1") throw new InvitationError("malformed", "sealed invitation has no v1");
  const { headerBytes, ciphertext } = sealed.version.value;
  if (headerBytes.length === 0) throw new InvitationError("malformed", "missing header bytes");
  if (headerBytes.length > MAX_INVITATION_HEADER_BYTES)
    throw new InvitationError(
      "too-large",
      `invitation header is ${headerBytes.length} bytes, limit ${MAX_INVITATION_HEADER_BYTES}`,
    );
  if (!ciphertext) throw new InvitationError("malformed", "missing ciphertext");
  const header = fromBinary(SealedInvitationHeaderV1Schema, headerBytes);
  if (!header.sender || !header.recipient)
    throw new InvitationError("malformed", "header is missing sender or recipient");
  return { header, headerBytes, ciphertext };
}

/**
 * A verified-bundle cache key: both keys' bytes and signatures, all that the pre-key check and the
 * wallet recovery read.
 */
export function signedBundleKey(b: SignedPublicKeyBundle): string {
  const id = b.identityKey!;
  const pre = b.preKey!;
  return `${toHex(id.keyBytes)}${sigKey(id)}|${toHex(pre.keyBytes)}${sigKey(pre)}`;
}

function sigKey(k: SignedPublicKey): string {
  const u = k.signature?.union;
  return u && (u.case === "ecdsaCompact" || u.case === "walletEcdsaCompact")
    ? `:${u.case}:${toHex(u.value.bytes)}:${u.value.recovery}`
    : ":none";
}
