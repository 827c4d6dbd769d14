/**
 * V1 messages (protocol.md §10): `MessageV1` with both legacy bundles in the header, the 3DH
 * secret in the sender role and the header bytes as AAD; dm and intro topics; decoding with the
 * reference checks, using the pre-key the header names (protocol.md §18 row 13).
 */

import { create, toBinary } from "@bufbuild/protobuf";
import {
  type Envelope,
  EnvelopeSchema,
  type MessageHeaderV1,
  MessageHeaderV1Schema,
  MessageSchema,
  type PublicKey,
  type PublicKeyBundle,
} from "@xmtp-ts/proto";
import {
  buildTopic,
  legacyPublicKeyBytes,
  verifyLegacyPreKey,
  walletAddressFromLegacyKey,
} from "@xmtp-ts/protocol";
import { invalidContact } from "../errors.js";
import { NoMatchingPreKeyError, type OwnKeys, sharedSecret3dh } from "../keys/own-keys.js";
import { bytesEqual, decryptCiphertext, encryptCiphertext, sha256, toHex } from "./primitives.js";
import { decodeFailure, MessageDecodeError, readMessageEnvelope } from "./v2.js";

/** Largest `MessageHeaderV1` accepted (two legacy bundles are ~600 bytes). */
export const MAX_V1_HEADER_BYTES = 8 * 1024;

export interface EncodedV1 {
  bytes: Uint8Array;
  id: string;
  timestampMs: bigint;
}

/** Builds a `Message{v1}` to `recipient` (a legacy bundle; convert V2-only contacts first). */
export async function encodeMessageV1(
  own: OwnKeys,
  recipient: PublicKeyBundle,
  payload: Uint8Array,
  timestampMs: bigint,
): Promise<EncodedV1> {
  const pre = own.preKeys[0];
  if (!pre) throw new NoMatchingPreKeyError();
  const headerBytes = toBinary(
    MessageHeaderV1Schema,
    create(MessageHeaderV1Schema, { sender: own.legacyBundle, recipient, timestamp: timestampMs }),
  );
  const peer = legacyPeerKeys(recipient);
  if (!verifyLegacyPreKey(recipient.identityKey!, recipient.preKey!))
    throw invalidContact("peer preKey signature invalid");
  const secret = sharedSecret3dh(own, peer, pre.publicKey, false);
  const ciphertext = await encryptCiphertext(payload, secret, headerBytes);
  const bytes = toBinary(
    MessageSchema,
    create(MessageSchema, { version: { case: "v1", value: { headerBytes, ciphertext } } }),
  );
  return { bytes, id: toHex(sha256(bytes)), timestampMs };
}

/**
 * The envelopes of one V1 send: the dm (or dmE) topic, preceded by both intro topics when this is
 * the first message to the peer from this client. All carry the same bytes and timestamp.
 */
export function v1Envelopes(
  own: string,
  peer: string,
  bytes: Uint8Array,
  timestampMs: bigint,
  opts: { intro: boolean; ephemeral?: boolean },
): Envelope[] {
  const dm = opts.ephemeral ? buildTopic.dmEphemeral(own, peer) : buildTopic.dm(own, peer);
  const topics = opts.intro && !opts.ephemeral ? [buildTopic.intro(peer), buildTopic.intro(own), dm] : [dm];
  return topics.map((contentTopic) =>
    create(EnvelopeSchema, { contentTopic, timestampNs: timestampMs * 1_000_000n, message: bytes }),
  );
}

export interface DecodedV1 {
  id: string;
  senderAddress: string;
  recipientAddress: string;
  /** The other party from this client's point of view. */
  peerAddress: string;
  sentMs: bigint;
  /** Encoded `EncodedContent`. */
  payload: Uint8Array;
  header: MessageHeaderV1;
}

function legacyPeerKeys(b: PublicKeyBundle | undefined): { identity: Uint8Array; preKey: Uint8Array } {
  if (!b?.identityKey || !b.preKey) throw invalidContact("bundle is missing a key");
  return { identity: checkedLegacy(b.identityKey), preKey: checkedLegacy(b.preKey) };
}

function checkedLegacy(k: PublicKey): Uint8Array {
  const pub = legacyPublicKeyBytes(k);
  if (pub.length !== 65 || pub[0] !== 4)
    throw invalidContact(`public key expected 65 bytes 04‖X‖Y, got ${pub.length}`);
  const s = k.signature?.union;
  if (s && (s.case === "ecdsaCompact" || s.case === "walletEcdsaCompact")) {
    if (s.value.bytes.length !== 64)
      throw invalidContact(`signature expected 64 bytes, got ${s.value.bytes.length}`);
    if (s.value.recovery > 1)
      throw invalidContact(`signature recovery expected 0 or 1, got ${s.value.recovery}`);
  }
  return pub;
}

/**
 * Decodes a V1 envelope (protocol.md §10.3). With `topic`, the header's dm topic must equal it
 * (use this for dm topics; leave it out for intro topics). Throws {@link MessageDecodeError}.
 */
export async function decodeMessageV1(own: OwnKeys, env: Envelope, topic?: string): Promise<DecodedV1> {
  const fail = decodeFailure(env);
  const { body, header } = readMessageEnvelope(env, "v1", MessageHeaderV1Schema, MAX_V1_HEADER_BYTES);
  const { headerBytes, ciphertext } = body;
  if (
    !header.sender?.identityKey ||
    !header.sender.preKey ||
    !header.recipient?.identityKey ||
    !header.recipient.preKey
  )
    fail("malformed", "header is missing a key");
  let sender: { identity: Uint8Array; preKey: Uint8Array };
  let recipient: { identity: Uint8Array; preKey: Uint8Array };
  let senderAddress: string;
  let recipientAddress: string;
  try {
    sender = legacyPeerKeys(header.sender);
    recipient = legacyPeerKeys(header.recipient);
    senderAddress = walletAddressFromLegacyKey(header.sender!.identityKey!);
    recipientAddress = walletAddressFromLegacyKey(header.recipient!.identityKey!);
  } catch (cause) {
    return fail("bad-key", (cause as Error).message, cause);
  }
  if (topic !== undefined && buildTopic.dm(senderAddress, recipientAddress) !== topic)
    fail("headers-mismatch", "Headers do not match intended recipient");
  const isSender = bytesEqual(sender.identity, own.identity.publicKey);
  if (!isSender && !bytesEqual(recipient.identity, own.identity.publicKey))
    fail("headers-mismatch", "message is neither from nor to this identity");
  const peerBundle = isSender ? header.recipient! : header.sender!;
  if (!verifyLegacyPreKey(peerBundle.identityKey!, peerBundle.preKey!))
    fail("pre-key-not-signed", "peer preKey signature invalid");
  const myPre = isSender ? sender.preKey : recipient.preKey;
  let secret: Uint8Array;
  try {
    secret = sharedSecret3dh(own, isSender ? recipient : sender, myPre, !isSender);
  } catch (cause) {
    return fail("no-matching-pre-key", "no matching pre-key", cause);
  }
  if (!ciphertext) return fail("malformed", "missing ciphertext");
  let payload: Uint8Array;
  try {
    payload = await decryptCiphertext(ciphertext, secret, headerBytes);
  } catch (cause) {
    return fail("decrypt-failed", `cannot decrypt: ${(cause as Error).message}`, cause);
  }
  return {
    id: toHex(sha256(env.message)),
    senderAddress,
    recipientAddress,
    peerAddress: isSender ? recipientAddress : senderAddress,
    sentMs: header.timestamp,
    payload,
    header,
  };
}
