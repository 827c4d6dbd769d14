/**
 * The secp256k1 backend behind crypto.ts: libsecp256k1 compiled to WebAssembly (the binary that
 * ships in `tiny-secp256k1`), loaded asynchronously, with @noble/curves as the synchronous
 * fallback until it is ready and wherever it cannot load. Both produce identical bytes (RFC 6979
 * deterministic low-S signatures, the same strictness on verification and recovery); property tests
 * compare them on random keys and messages.
 *
 * Loading starts when this module is first imported and never blocks it: until the WebAssembly
 * module is compiled and instantiated (a few ms in Node; one fetch of ~1.2 MB plus a compile in a
 * browser) every call runs on noble. Code that does bulk work awaits {@link initSecp256k1} first.
 * Inputs are validated by the callers (crypto.ts); backends only compute.
 */
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { loadWasmSecp256k1, type WasmSource } from "./secp256k1-wasm.js";

export type { WasmSource } from "./secp256k1-wasm.js";

/** A 64-byte compact `r ‖ s` signature with its recovery id (0 or 1). */
export interface CompactSignature {
  bytes: Uint8Array;
  recovery: number;
}

/** The secp256k1 operations the protocol uses, on validated inputs. */
export interface Secp256k1Backend {
  readonly name: "libsecp256k1-wasm" | "noble";
  /**
   * The compiled `WebAssembly.Module` behind a WebAssembly backend (typed as `object` so these
   * declarations need no WebAssembly types): a worker handed it instantiates without fetching or
   * compiling the binary again.
   */
  readonly module?: object;
  /** The 65-byte uncompressed public key of a valid private key. */
  getPublicKey(priv32: Uint8Array): Uint8Array;
  /** RFC 6979 deterministic, low-S signature of a 32-byte digest. */
  sign(priv32: Uint8Array, digest32: Uint8Array): CompactSignature;
  /** Strict verification (high-S and out-of-range r/s are false, never a throw). */
  verify(pub65: Uint8Array, digest32: Uint8Array, sig64: Uint8Array): boolean;
  /** The 65-byte public key that made the signature; throws when there is none. */
  recover(digest32: Uint8Array, sig64: Uint8Array, recovery: number): Uint8Array;
  /** priv·pub as a 65-byte uncompressed point; throws on an invalid point. */
  ecdh(priv32: Uint8Array, pub65: Uint8Array): Uint8Array;
}

/** The pure-JS backend (@noble/curves). */
export const nobleSecp256k1: Secp256k1Backend = {
  name: "noble",
  getPublicKey: (priv32) => noble.getPublicKey(priv32, false),
  sign(priv32, digest32) {
    const rec = noble.sign(digest32, priv32, { prehash: false, lowS: true, format: "recovered" });
    // noble's "recovered" layout is recovery ‖ r ‖ s.
    return { bytes: rec.slice(1), recovery: rec[0]! };
  },
  verify(pub65, digest32, sig64) {
    try {
      return noble.verify(sig64, digest32, pub65, { prehash: false, lowS: true, format: "compact" });
    } catch {
      return false;
    }
  },
  recover(digest32, sig64, recovery) {
    const rec = new Uint8Array(65);
    rec[0] = recovery;
    rec.set(sig64, 1);
    return noble.Signature.fromBytes(rec, "recovered").recoverPublicKey(digest32).toBytes(false);
  },
  ecdh: (priv32, pub65) => noble.getSharedSecret(priv32, pub65, false),
};

let current: Secp256k1Backend = nobleSecp256k1;
let pinned = false;
let loaded: Secp256k1Backend | undefined;
let loading: Promise<Secp256k1Backend> | undefined;
let loadError: unknown;

/** The backend in use right now: libsecp256k1 once loaded, noble before that or if it failed. */
export function secp256k1Backend(): Secp256k1Backend {
  return current;
}

/**
 * Pins the backend (for tests and benchmarks that compare the two): later loads no longer replace
 * it. `undefined` unpins and returns to the loaded backend, or noble.
 */
export function useSecp256k1Backend(backend: Secp256k1Backend | undefined): void {
  pinned = backend !== undefined;
  current = backend ?? loaded ?? nobleSecp256k1;
}

/** Why the WebAssembly backend is not in use, once loading it has failed (undefined otherwise). */
export function secp256k1LoadError(): unknown {
  return loadError;
}

/**
 * Loads libsecp256k1 and resolves with the backend in use afterwards. Loading starts by itself when
 * this module is imported, from the default place (see secp256k1-wasm.ts); call this to wait for
 * it, or with a `source` to load from elsewhere if the default failed (a bundle that does not ship
 * the `.wasm` beside the code). Never rejects: on failure the backend stays noble and
 * {@link secp256k1LoadError} says why.
 */
export function initSecp256k1(source?: WasmSource): Promise<Secp256k1Backend> {
  if (loading && source === undefined) return loading;
  loading = (loading ?? Promise.resolve()).then(() =>
    loaded
      ? current
      : loadWasmSecp256k1(source).then(
          (wasm) => {
            loaded = wasm;
            loadError = undefined;
            if (!pinned) current = wasm;
            return current;
          },
          (err: unknown) => {
            loadError = err;
            return current;
          },
        ),
  );
  return loading;
}

void initSecp256k1();
