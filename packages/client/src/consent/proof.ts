/**
 * Consent proofs (protocol.md §14.4): a wallet grants inbox consent to a sender by signing a
 * dated text; the sender carries the signature in the invitation, and the granting client allows
 * the sender when it reads the invitation with a valid proof and no consent recorded yet.
 */
import { create } from "@bufbuild/protobuf";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  type ConsentProofPayload,
  ConsentProofPayloadSchema,
  ConsentProofPayloadVersion,
} from "@xmtp-ts/proto";
import { consentProofText, recoverWalletAddress, toChecksumAddress } from "@xmtp-ts/protocol";
import { type Signer, signText } from "../signer.js";

/** How old a consent proof may be when it is read. */
export const CONSENT_PROOF_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/** Signs a consent proof granting `senderAddress` consent to open conversations with the signer. */
export async function createConsentProof(
  signer: Signer,
  senderAddress: string,
  timestampMs: number = Date.now(),
): Promise<ConsentProofPayload> {
  const signature = await signText(signer, consentProofText(toChecksumAddress(senderAddress), timestampMs));
  return create(ConsentProofPayloadSchema, {
    signature: `0x${bytesToHex(signature)}`,
    timestamp: BigInt(timestampMs),
    payloadVersion: ConsentProofPayloadVersion.CONSENT_PROOF_PAYLOAD_VERSION_1,
  });
}

/**
 * Whether `proof` was signed by `ownAddress` for `senderAddress`, is not dated in the future and
 * is at most 30 days old. Any malformed part makes it invalid; this never throws.
 */
export function isValidConsentProof(
  proof: ConsentProofPayload,
  senderAddress: string,
  ownAddress: string,
  nowMs: number = Date.now(),
): boolean {
  const ts = Number(proof.timestamp);
  if (!proof.signature || !ts || ts > nowMs || ts < nowMs - CONSENT_PROOF_MAX_AGE_MS) return false;
  try {
    const hex = proof.signature.startsWith("0x") ? proof.signature.slice(2) : proof.signature;
    if (hex.length !== 130) return false;
    const text = consentProofText(toChecksumAddress(senderAddress), ts);
    return recoverWalletAddress(text, hexToBytes(hex)) === toChecksumAddress(ownAddress);
  } catch {
    return false;
  }
}
