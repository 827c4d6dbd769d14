/**
 * V2 messages (protocol.md §9): building a `Message{v2}` (SignedContent signed by the current
 * pre-key, AES-256-GCM under the invitation key material with the header as AAD, sender HMAC,
 * should_push) and decoding one with every reference check plus ours: the sender must be one of
 * the conversation's two participants.
 */
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  type Envelope,
  EnvelopeSchema,
  type Message,
  MessageHeaderV2Schema,
  MessageSchema,
  type MessageV1,
  type MessageV2,
  type SignedContent,
  SignedContentSchema,
  type SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import {
  buildTopic,
  createIdentityText,
  eip191Hash,
  MAX_MESSAGE_BYTES,
  publicKeyToAddress,
  secp256k1Backend,
  signCompact,
} from "@xmtp-ts/protocol";
import { type MessageDecodeErrorReason, XmtpError } from "../errors.js";
import { NoMatchingPreKeyError, type OwnKeys } from "../keys/own-keys.js";
import { type CurveBackend, type CurveJob, type CurveResult, runCurveJob } from "./curve-jobs.js";
import { peerKeysFromSignedBundle, signedBundleKey } from "./invitation.js";
import {
  concatBytes,
  decryptCiphertext,
  encryptCiphertext,
  hmacKey,
  hmacSha256,
  sha256,
  toHex,
} from "./primitives.js";

export type { MessageDecodeErrorReason };

/** Largest `MessageHeaderV2` accepted (a topic is ≤ 300 bytes). */
export const MAX_V2_HEADER_BYTES = 1024;

/**
 * A message that failed a check on receive (code `"invalid-message"`); `reason` says which.
 * Streams and listings skip these and report them to `onError`.
 */
export class MessageDecodeError extends XmtpError<"invalid-message"> {
  override readonly name: string = "MessageDecodeError";
  constructor(
    readonly reason: MessageDecodeErrorReason,
    message: string,
    readonly envelope?: Envelope,
    options?: { cause?: unknown },
  ) {
    super("invalid-message", message, { reason, contentTopic: envelope?.contentTopic }, options);
  }
}

/** A `fail` that throws {@link MessageDecodeError} about `env`. */
export function decodeFailure(env: Envelope) {
  return (reason: MessageDecodeErrorReason, message: string, cause?: unknown): never => {
    throw new MessageDecodeError(reason, message, env, cause === undefined ? undefined : { cause });
  };
}

/**
 * The bounded first steps shared by V1 and V2: a non-empty envelope within the message limit, a
 * `Message` of the expected version (its body returned), and its header (at most `maxHeaderBytes`)
 * decoded.
 */
export function readMessageEnvelope<V extends "v1" | "v2", H extends DescMessage>(
  env: Envelope,
  version: V,
  headerSchema: H,
  maxHeaderBytes: number,
): { body: { v1: MessageV1; v2: MessageV2 }[V]; header: MessageShape<H> } {
  const fail = decodeFailure(env);
  if (!env.contentTopic || env.message.length === 0) fail("empty-envelope", "empty envelope");
  if (env.message.length > MAX_MESSAGE_BYTES)
    fail("too-large", `message is ${env.message.length} bytes, limit ${MAX_MESSAGE_BYTES}`);
  let msg: Message;
  try {
    msg = fromBinary(MessageSchema, env.message);
  } catch (cause) {
    return fail("malformed", "undecodable message", cause);
  }
  if (msg.version.case !== version) return fail("unknown-version", "unknown message version");
  const body = msg.version.value as { v1: MessageV1; v2: MessageV2 }[V];
  if (body.headerBytes.length > maxHeaderBytes)
    fail("too-large", `header is ${body.headerBytes.length} bytes, limit ${maxHeaderBytes}`);
  try {
    return { body, header: fromBinary(headerSchema, body.headerBytes) };
  } catch (cause) {
    return fail("malformed", "undecodable header", cause);
  }
}

/** `floor(ms / 1000 / 60 / 60 / 24 / 30)`: 30-day periods since the epoch. */
export function thirtyDayPeriod(nowMs: number): number {
  return Math.floor(nowMs / 1000 / 60 / 60 / 24 / 30);
}

/** The sender HMAC key for a period (protocol.md §9.2, push-server keys). */
export function senderHmacKey(keyMaterial: Uint8Array, period: number, address: string): Promise<Uint8Array> {
  return hmacKey(keyMaterial, new TextEncoder().encode(`${period}-${address}`));
}

export interface EncodeV2Input {
  own: OwnKeys;
  topic: string;
  keyMaterial: Uint8Array;
  /** Encoded `EncodedContent`. */
  payload: Uint8Array;
  createdNs: bigint;
  shouldPush?: boolean;
  /** Clock for the HMAC period; defaults to `Date.now()`. */
  nowMs?: number;
}

export interface EncodedV2 {
  /** Encoded `Message{v2}`. */
  bytes: Uint8Array;
  /** hex(sha256(Message bytes)). */
  id: string;
  headerBytes: Uint8Array;
  senderHmac: Uint8Array;
}

/** The header bytes and SignedContent of a V2 message; deterministic (no encryption yet). */
export function signV2(own: OwnKeys, topic: string, payload: Uint8Array, createdNs: bigint) {
  const headerBytes = toBinary(MessageHeaderV2Schema, create(MessageHeaderV2Schema, { createdNs, topic }));
  const pre = own.preKeys[0];
  if (!pre) throw new NoMatchingPreKeyError();
  const sig = signCompact(pre.privateKey, sha256(concatBytes(headerBytes, payload)));
  const signed = create(SignedContentSchema, {
    payload,
    sender: own.signedBundle,
    signature: { union: { case: "ecdsaCompact", value: { bytes: sig.bytes, recovery: sig.recovery } } },
  });
  return { headerBytes, signedBytes: toBinary(SignedContentSchema, signed) };
}

/** Builds a `Message{v2}` (protocol.md §9.2). */
export async function encodeMessageV2(i: EncodeV2Input): Promise<EncodedV2> {
  const { headerBytes, signedBytes } = signV2(i.own, i.topic, i.payload, i.createdNs);
  const ciphertext = await encryptCiphertext(signedBytes, i.keyMaterial, headerBytes);
  const period = thirtyDayPeriod(i.nowMs ?? Date.now());
  const senderHmac = await hmacSha256(await senderHmacKey(i.keyMaterial, period, i.own.address), headerBytes);
  const bytes = toBinary(
    MessageSchema,
    create(MessageSchema, {
      version: {
        case: "v2",
        value: {
          headerBytes,
          ciphertext,
          senderHmac,
          ...(i.shouldPush !== undefined ? { shouldPush: i.shouldPush } : {}),
        },
      },
    }),
  );
  return { bytes, id: toHex(sha256(bytes)), headerBytes, senderHmac };
}

/** The envelope of a V2 message, to the conversation topic or its `mE-` twin. */
export function v2Envelope(topic: string, createdNs: bigint, bytes: Uint8Array, ephemeral = false): Envelope {
  return create(EnvelopeSchema, {
    contentTopic: ephemeral ? buildTopic.ephemeral(topic) : topic,
    timestampNs: createdNs,
    message: bytes,
  });
}

/** A V2 message that passed every check. */
export interface DecodedV2 {
  id: string;
  senderAddress: string;
  /** `header.created_ns`. */
  sentNs: bigint;
  /** Encoded `EncodedContent` (verified, not yet decoded). */
  payload: Uint8Array;
  sender: SignedPublicKeyBundle;
  senderHmac: Uint8Array | undefined;
  shouldPush: boolean | undefined;
}

export interface DecodeV2Input {
  envelope: Envelope;
  /** The conversation topic (not the `mE-` twin). */
  topic: string;
  keyMaterial: Uint8Array | undefined;
  /**
   * The addresses the sender must be one of (the two participants). `null` only where the caller
   * judges the sender itself after decoding: group topics, whose member list changes in the topic.
   */
  participants: readonly string[] | null;
  /** Memo of verified sender bundles → address, shared across a batch. */
  verified?: Map<string, string>;
}

/**
 * Decodes a V2 envelope with the checks of protocol.md §9.3 in order, plus the participant
 * check. Throws {@link MessageDecodeError}.
 */
export async function decodeMessageV2(i: DecodeV2Input): Promise<DecodedV2> {
  const p = await prepareV2(i);
  const r = runCurveJob(secp256k1Backend(), p.job);
  return finishV2(i, p, r.verified[p.preIdx] === true, r.verified[p.msgIdx] === true, r.recovered);
}

/**
 * Decodes a batch of V2 envelopes with the same checks as {@link decodeMessageV2}, sharing
 * `verified` (sender bundles already checked); the signature work runs through `run` (this thread
 * by default; the curve workers when the caller has them). A sender bundle met several times in
 * the batch is checked once. Each result is the message or its error.
 */
export async function decodeMessagesV2(
  inputs: DecodeV2Input[],
  verified: Map<string, string>,
  run?: (jobs: CurveJob[], local: CurveBackend) => Promise<CurveResult[]>,
): Promise<(DecodedV2 | MessageDecodeError)[]> {
  const prepared = await Promise.all(
    inputs.map((i) => prepareV2({ ...i, verified }).catch((e: unknown) => asMessageError(e, i.envelope))),
  );
  // The first message of each sender bundle not yet verified carries its pre-key check and
  // wallet recovery; later ones of the same bundle wait for that answer.
  const checking = new Map<string, number>();
  const first: (number | undefined)[] = [];
  const jobs: CurveJob[] = [];
  for (const [k, p] of prepared.entries()) {
    let f: number | undefined;
    if (!(p instanceof MessageDecodeError) && p.senderAddress === undefined) {
      f = checking.get(p.cacheKey);
      if (f === undefined) checking.set(p.cacheKey, k);
      else {
        const msg = p.job.verify[p.msgIdx];
        p.job = { ecdh: [], verify: msg ? [msg] : [] };
        p.preIdx = -1;
        p.msgIdx = msg ? 0 : -1;
      }
    }
    first.push(f);
    if (!(p instanceof MessageDecodeError)) jobs.push(p.job);
  }
  const local = secp256k1Backend();
  const results = run ? await run(jobs, local) : jobs.map((j) => runCurveJob(local, j));
  const byIndex: (CurveResult | undefined)[] = [];
  let n = 0;
  for (const p of prepared) byIndex.push(p instanceof MessageDecodeError ? undefined : results[n++]);
  return prepared.map((p, k) => {
    if (p instanceof MessageDecodeError) return p;
    const r = byIndex[k]!;
    const f = first[k];
    const fp = f === undefined ? undefined : (prepared[f] as PreparedV2);
    const fr = f === undefined ? undefined : byIndex[f]!;
    try {
      return finishV2(
        { ...inputs[k]!, verified },
        p,
        fp && fr ? fr.verified[fp.preIdx] === true : r.verified[p.preIdx] === true,
        r.verified[p.msgIdx] === true,
        fr ? fr.recovered : r.recovered,
      );
    } catch (e) {
      return asMessageError(e, inputs[k]!.envelope);
    }
  });
}

function asMessageError(e: unknown, env: Envelope): MessageDecodeError {
  return e instanceof MessageDecodeError ? e : new MessageDecodeError("malformed", String(e), env);
}

/** A V2 envelope decrypted and decoded up to its signature work, which `job` describes. */
interface PreparedV2 {
  header: { createdNs: bigint };
  body: MessageV2;
  signed: SignedContent;
  sender: SignedPublicKeyBundle;
  cacheKey: string;
  /** Known from `verified`: no pre-key check or recovery needed. */
  senderAddress: string | undefined;
  walletSigned: boolean;
  /** Where the pre-key check and the message signature check are in `job.verify` (-1: none, a failure). */
  preIdx: number;
  msgIdx: number;
  job: CurveJob;
}

async function prepareV2(i: DecodeV2Input): Promise<PreparedV2> {
  const env = i.envelope;
  const fail = decodeFailure(env);
  const { body, header } = readMessageEnvelope(env, "v2", MessageHeaderV2Schema, MAX_V2_HEADER_BYTES);
  const { headerBytes, ciphertext } = body;
  if (header.topic !== i.topic) fail("topic-mismatch", "topic mismatch");
  if (!i.keyMaterial) return fail("no-topic-key", "no topic key");
  let plain: Uint8Array;
  if (!ciphertext) return fail("malformed", "missing ciphertext");
  try {
    plain = await decryptCiphertext(ciphertext, i.keyMaterial, headerBytes);
  } catch (cause) {
    return fail("decrypt-failed", `cannot decrypt: ${(cause as Error).message}`, cause);
  }
  let signed: SignedContent;
  try {
    signed = fromBinary(SignedContentSchema, plain);
  } catch (cause) {
    return fail("malformed", "undecodable signed content", cause);
  }
  if (!signed.sender?.identityKey || !signed.sender.preKey || !signed.signature)
    fail("incomplete-signed-content", "incomplete signed content");
  const sender = signed.sender as SignedPublicKeyBundle;
  const cacheKey = signedBundleKey(sender);
  const senderAddress = i.verified?.get(cacheKey);
  let keys: { identity: Uint8Array; preKey: Uint8Array };
  try {
    keys = peerKeysFromSignedBundle(sender);
  } catch (cause) {
    return fail("bad-key", (cause as Error).message, cause);
  }
  const job: CurveJob = { ecdh: [], verify: [] };
  let preIdx = -1;
  const id = sender.identityKey!;
  const pre = sender.preKey!;
  if (senderAddress === undefined) {
    // The pre-key signature: ecdsa_compact by the identity key over sha256 of the pre-key bytes.
    const preSig = pre.signature?.union;
    if (preSig?.case === "ecdsaCompact") {
      preIdx = job.verify.length;
      job.verify.push([keys.identity, sha256(pre.keyBytes), preSig.value.bytes]);
    }
    const idSig = id.signature?.union;
    if (idSig?.case === "walletEcdsaCompact")
      job.recover = [eip191Hash(createIdentityText(id.keyBytes)), idSig.value.bytes, idSig.value.recovery];
  }
  let msgIdx = -1;
  const sig = signed.signature!.union;
  if (sig.case === "ecdsaCompact" && sig.value.bytes.length === 64) {
    msgIdx = job.verify.length;
    job.verify.push([keys.preKey, sha256(concatBytes(headerBytes, signed.payload)), sig.value.bytes]);
  }
  return {
    header,
    body,
    signed,
    sender,
    cacheKey,
    senderAddress,
    walletSigned: id.signature?.union.case === "walletEcdsaCompact",
    preIdx,
    msgIdx,
    job,
  };
}

function finishV2(
  i: DecodeV2Input,
  p: PreparedV2,
  preKeyOk: boolean,
  signatureOk: boolean,
  recovered: Uint8Array | undefined,
): DecodedV2 {
  const env = i.envelope;
  const fail = decodeFailure(env);
  let senderAddress = p.senderAddress;
  if (senderAddress === undefined && !preKeyOk)
    fail("pre-key-not-signed", "pre key not signed by identity key");
  if (!signatureOk) fail("bad-signature", "invalid signature");
  if (senderAddress === undefined) {
    if (!p.walletSigned) return fail("not-wallet-signed", "key was not signed by a wallet");
    if (!recovered) return fail("not-wallet-signed", "cannot recover the wallet");
    senderAddress = publicKeyToAddress(recovered);
    i.verified?.set(p.cacheKey, senderAddress);
  }
  if (i.participants !== null && !i.participants.includes(senderAddress))
    fail("sender-not-participant", `sender ${senderAddress} is not a participant of this conversation`);
  return {
    id: toHex(sha256(env.message)),
    senderAddress,
    sentNs: p.header.createdNs,
    payload: p.signed.payload,
    sender: p.sender,
    senderHmac: p.body.senderHmac,
    shouldPush: p.body.shouldPush,
  };
}
