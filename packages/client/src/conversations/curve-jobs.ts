/**
 * The secp256k1 work of opening one invitation as plain bytes (three 3DH products, the peer's
 * pre-key signature check and its wallet recovery), so a batch can share it between this thread
 * and the curve workers (curve-pool.ts). Inputs are validated by whoever builds a job
 * (invitation.ts); this module only computes, and imports nothing, so a worker that loads it
 * stays small.
 */

/** The subset of a secp256k1 backend (@xmtp-ts/protocol) a job needs. */
export interface CurveBackend {
  verify(pub65: Uint8Array, digest32: Uint8Array, sig64: Uint8Array): boolean;
  recover(digest32: Uint8Array, sig64: Uint8Array, recovery: number): Uint8Array;
  ecdh(priv32: Uint8Array, pub65: Uint8Array): Uint8Array;
}

export interface CurveJob {
  /** The 3DH products to compute, in order: (own private scalar, peer public key). */
  ecdh: [Uint8Array, Uint8Array][];
  /** The peer's pre-key signature: identity key, sha256 of the pre-key bytes, compact signature. */
  verify?: [Uint8Array, Uint8Array, Uint8Array] | undefined;
  /** The peer's wallet: EIP-191 digest of the identity text, compact signature, recovery id. */
  recover?: [Uint8Array, Uint8Array, number] | undefined;
}

export interface CurveResult {
  /** The shared points, or undefined when one of them failed. */
  dh: Uint8Array[] | undefined;
  verified: boolean;
  /** The recovered 65-byte key, or undefined when nothing recovers (or no recovery was asked). */
  recovered: Uint8Array | undefined;
}

export function runCurveJob(b: CurveBackend, job: CurveJob): CurveResult {
  let verified = false;
  if (job.verify) {
    try {
      verified = b.verify(job.verify[0], job.verify[1], job.verify[2]);
    } catch {
      verified = false;
    }
  }
  let recovered: Uint8Array | undefined;
  if (job.recover) {
    try {
      recovered = b.recover(job.recover[0], job.recover[1], job.recover[2]);
    } catch {
      recovered = undefined;
    }
  }
  let dh: Uint8Array[] | undefined = [];
  try {
    for (const [priv, pub] of job.ecdh) dh.push(b.ecdh(priv, pub));
  } catch {
    dh = undefined;
  }
  return { dh, verified, recovered };
}
