/**
 * The secp256k1 work of opening one invitation or reading one message, as plain bytes (3DH
 * products, signature checks, a wallet recovery), so a batch can share it between this thread
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
  /** Signature checks, in order: public key, 32-byte digest, compact signature. */
  verify: [Uint8Array, Uint8Array, Uint8Array][];
  /** A wallet recovery: EIP-191 digest of the identity text, compact signature, recovery id. */
  recover?: [Uint8Array, Uint8Array, number] | undefined;
}

export interface CurveResult {
  /** The shared points, or undefined when one of them failed. */
  dh: Uint8Array[] | undefined;
  /** One answer per signature check. */
  verified: boolean[];
  /** The recovered 65-byte key, or undefined when nothing recovers (or no recovery was asked). */
  recovered: Uint8Array | undefined;
}

export function runCurveJob(b: CurveBackend, job: CurveJob): CurveResult {
  const verified = job.verify.map(([pub, digest, sig]) => {
    try {
      return b.verify(pub, digest, sig);
    } catch {
      return false;
    }
  });
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

const PRIV = 32;
const PUB = 65;
const DIGEST = 32;
const SIG = 64;

/**
 * Jobs as one compact buffer for a worker (a Uint8Array from a decoded message is a view of the
 * whole message, which postMessage would copy whole). Undefined when a field has an unexpected
 * length: such jobs run on the calling thread.
 */
export function packJobs(jobs: CurveJob[]): Uint8Array | undefined {
  let size = 0;
  for (const j of jobs) {
    if (j.ecdh.length > 255 || j.verify.length > 255) return undefined;
    size += 3 + j.ecdh.length * (PRIV + PUB) + j.verify.length * (PUB + DIGEST + SIG);
    if (j.recover) size += DIGEST + SIG + 1;
  }
  const out = new Uint8Array(size);
  let o = 0;
  const put = (b: Uint8Array, len: number) => {
    if (b.length !== len) throw new RangeError("unexpected length");
    out.set(b, o);
    o += len;
  };
  try {
    for (const j of jobs) {
      out[o++] = j.ecdh.length;
      out[o++] = j.verify.length;
      out[o++] = j.recover ? 1 : 0;
      for (const [k, p] of j.ecdh) {
        put(k, PRIV);
        put(p, PUB);
      }
      for (const [p, d, s] of j.verify) {
        put(p, PUB);
        put(d, DIGEST);
        put(s, SIG);
      }
      if (j.recover) {
        put(j.recover[0], DIGEST);
        put(j.recover[1], SIG);
        out[o++] = j.recover[2];
      }
    }
  } catch {
    return undefined;
  }
  return out;
}

export function unpackJobs(b: Uint8Array): CurveJob[] {
  const jobs: CurveJob[] = [];
  let o = 0;
  const get = (len: number) => {
    o += len;
    return b.subarray(o - len, o);
  };
  while (o < b.length) {
    const ne = b[o++]!;
    const nv = b[o++]!;
    const hasRecover = b[o++] === 1;
    const job: CurveJob = { ecdh: [], verify: [] };
    for (let i = 0; i < ne; i++) job.ecdh.push([get(PRIV), get(PUB)]);
    for (let i = 0; i < nv; i++) job.verify.push([get(PUB), get(DIGEST), get(SIG)]);
    if (hasRecover) job.recover = [get(DIGEST), get(SIG), get(1)[0]!];
    jobs.push(job);
  }
  return jobs;
}

/** Results as one buffer (the shared points and recovered keys are 65 bytes each). */
export function packResults(results: CurveResult[]): Uint8Array {
  let size = 0;
  for (const r of results)
    size += 3 + (r.dh?.length ?? 0) * PUB + r.verified.length + (r.recovered ? PUB : 0);
  const out = new Uint8Array(size);
  let o = 0;
  for (const r of results) {
    out[o++] = r.dh ? r.dh.length : 255;
    for (const p of r.dh ?? []) {
      out.set(p, o);
      o += PUB;
    }
    out[o++] = r.verified.length;
    for (const v of r.verified) out[o++] = v ? 1 : 0;
    out[o++] = r.recovered ? 1 : 0;
    if (r.recovered) {
      out.set(r.recovered, o);
      o += PUB;
    }
  }
  return out;
}

export function unpackResults(b: Uint8Array): CurveResult[] {
  const results: CurveResult[] = [];
  let o = 0;
  const get = (len: number) => {
    o += len;
    return b.slice(o - len, o);
  };
  while (o < b.length) {
    const nd = b[o++]!;
    let dh: Uint8Array[] | undefined;
    if (nd !== 255) {
      dh = [];
      for (let i = 0; i < nd; i++) dh.push(get(PUB));
    }
    const nv = b[o++]!;
    const verified: boolean[] = [];
    for (let i = 0; i < nv; i++) verified.push(b[o++] === 1);
    const recovered = b[o++] === 1 ? get(PUB) : undefined;
    results.push({ dh, verified, recovered });
  }
  return results;
}
