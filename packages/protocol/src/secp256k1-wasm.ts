/**
 * libsecp256k1 in WebAssembly: the `secp256k1.wasm` that `tiny-secp256k1` 2.2.4 ships (its Rust
 * build of libsecp256k1 0.8.1), instantiated asynchronously by this module instead of by the
 * package's own entry, which compiles the binary synchronously (`readFileSync` in Node; an ESM
 * `.wasm` import in browsers that only bundlers with a WebAssembly plugin can load).
 *
 * The binary's interface (pinned with the package version): fixed input buffers in its memory,
 * whose offsets are exported as globals (PRIVATE_INPUT, PUBLIC_KEY_INPUT, HASH_INPUT,
 * SIGNATURE_INPUT, TWEAK_INPUT), and functions that read them and write their result back into
 * PUBLIC_KEY_INPUT or SIGNATURE_INPUT. Invalid input makes the binary call its `throwError` import,
 * which throws out of the call.
 *
 * Where the binary comes from ({@link WasmSource}):
 * - Node: read from the installed `tiny-secp256k1` package.
 * - Elsewhere: fetched from `secp256k1.wasm` beside this module. The package build copies the
 *   binary into `dist/`; Vite, webpack and Parcel see `new URL("./secp256k1.wasm",
 *   import.meta.url)` and emit it as an asset; with esbuild, copy `dist/secp256k1.wasm` next to the
 *   bundle (esbuild keeps the URL relative to the bundle's own). Anything else (a CDN, a
 *   classic-script bundle without `import.meta`): pass the bytes, a URL or a Response to
 *   `initSecp256k1`.
 */
import type { CompactSignature, Secp256k1Backend } from "./secp256k1.js";

/** The group order n, big-endian. */
const ORDER = Uint8Array.from(
  "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141".match(/../g)!,
  (h) => Number.parseInt(h, 16),
);

/** 0 < k < n for a 32-byte big-endian scalar (a range check; no curve arithmetic). */
function isValidScalar(k: Uint8Array): boolean {
  if (k.length !== 32 || k.every((b) => b === 0)) return false;
  for (let i = 0; i < 32; i++) if (k[i] !== ORDER[i]) return k[i]! < ORDER[i]!;
  return false;
}

/** The part of a fetch `Response` the loader reads. */
export interface WasmResponse {
  readonly ok: boolean;
  readonly status: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Where to load the binary from: a URL or path, its bytes, a fetch `Response`, or a compiled
 * `WebAssembly.Module` (typed as `object` so these declarations need neither DOM nor Node types).
 */
export type WasmSource = URL | string | ArrayBuffer | Uint8Array | WasmResponse | object;

interface Exports {
  memory: WebAssembly.Memory;
  PRIVATE_INPUT: WebAssembly.Global;
  PUBLIC_KEY_INPUT: WebAssembly.Global;
  HASH_INPUT: WebAssembly.Global;
  SIGNATURE_INPUT: WebAssembly.Global;
  TWEAK_INPUT: WebAssembly.Global;
  initializeContext(): void;
  pointFromScalar(outLen: number): number;
  pointMultiply(pubLen: number, outLen: number): number;
  signRecoverable(withExtraData: number): number;
  verify(pubLen: number, strict: number): number;
  recover(outLen: number, recovery: number): number;
}

/** The binary's error codes (its `throwError` import), as messages. */
const ERRORS = [
  "bad private key",
  "bad point",
  "bad tweak",
  "bad hash",
  "bad signature",
  "bad extra data",
  "bad parity",
  "bad recovery id",
];

class Secp256k1WasmError extends Error {
  override readonly name = "Secp256k1WasmError";
}

type NodeBuiltin = <T>(id: string) => T;
const nodeBuiltin = (globalThis as { process?: { getBuiltinModule?: NodeBuiltin } }).process
  ?.getBuiltinModule;

/** The bytes of a file: URL or path, in Node. */
async function readFile(where: URL | string): Promise<ArrayBuffer> {
  if (!nodeBuiltin) throw new Error("reading files needs Node");
  const fs = nodeBuiltin<typeof import("node:fs/promises")>("node:fs/promises");
  const b = await fs.readFile(where);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** tiny-secp256k1's binary, located through Node's resolver (the package exports only its JS). */
function installedWasmPath(): string {
  if (!nodeBuiltin) throw new Error("no Node resolver");
  const { createRequire } = nodeBuiltin<typeof import("node:module")>("node:module");
  const path = nodeBuiltin<typeof import("node:path")>("node:path");
  const entry = createRequire(import.meta.url).resolve("tiny-secp256k1"); // lib/cjs/index.cjs
  return path.join(path.dirname(entry), "..", "secp256k1.wasm");
}

/** True for a file: URL or a string without a URL scheme (a path). */
function isLocal(where: URL | string): boolean {
  return typeof where === "string"
    ? !/^[a-z][a-z0-9+.-]+:/i.test(where) || where.startsWith("file:")
    : where.protocol === "file:";
}

function isResponse(x: unknown): x is WasmResponse {
  return typeof (x as WasmResponse | undefined)?.arrayBuffer === "function";
}

/** The binary's bytes (or compiled module) from wherever `source` says. */
async function fetchBinary(source: WasmSource | undefined): Promise<ArrayBuffer | WebAssembly.Module> {
  if (source instanceof WebAssembly.Module || source instanceof ArrayBuffer) return source;
  if (source instanceof Uint8Array) return source.slice().buffer;
  if (source === undefined && nodeBuiltin) return readFile(installedWasmPath());
  if (isResponse(source)) {
    if (!source.ok) throw new Error(`secp256k1.wasm: HTTP ${source.status}`);
    return source.arrayBuffer();
  }
  const where = source ?? new URL("./secp256k1.wasm", import.meta.url);
  if (!(where instanceof URL) && typeof where !== "string")
    throw new TypeError("secp256k1.wasm source: expected a URL, a path, bytes, a Response or a module");
  if (nodeBuiltin && isLocal(where)) return readFile(where);
  const res = await fetch(where);
  if (!res.ok) throw new Error(`fetching ${String(where)}: HTTP ${res.status}`);
  // Compiling while the bytes stream in also lets browsers keep the optimised machine code with
  // the HTTP cache entry, so a later visit starts on fast code. It needs the application/wasm
  // type; without it the bytes are compiled the plain way.
  const type = res.headers?.get("content-type") ?? "";
  if (typeof WebAssembly.compileStreaming === "function" && /^application\/wasm\b/i.test(type))
    return WebAssembly.compileStreaming(res);
  return res.arrayBuffer();
}

/** Compiles and instantiates the binary and wraps it as a backend. */
export async function loadWasmSecp256k1(source?: WasmSource): Promise<Secp256k1Backend> {
  const binary = await fetchBinary(source);
  const module = binary instanceof WebAssembly.Module ? binary : await WebAssembly.compile(binary);
  const imports = {
    "./rand.js": {
      // Seeds the context's side-channel blinding (initializeContext below).
      generateInt32: () => globalThis.crypto.getRandomValues(new Int32Array(1))[0]!,
    },
    "./validate_error.js": {
      throwError: (code: number) => {
        throw new Secp256k1WasmError(ERRORS[code] ?? `error ${code}`);
      },
    },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  const wasm = instance.exports as unknown as Exports;
  wasm.initializeContext();
  return wrap(wasm, module);
}

function wrap(wasm: Exports, module: WebAssembly.Module): Secp256k1Backend {
  let memory = new Uint8Array(wasm.memory.buffer);
  const at = (g: WebAssembly.Global) => g.value as number;
  const privOff = at(wasm.PRIVATE_INPUT);
  const pubOff = at(wasm.PUBLIC_KEY_INPUT);
  const hashOff = at(wasm.HASH_INPUT);
  const sigOff = at(wasm.SIGNATURE_INPUT);
  const tweakOff = at(wasm.TWEAK_INPUT);
  // The memory never grows in this binary (static buffers only), but a grown memory would detach
  // the view; re-take it rather than write into a dead buffer.
  const mem = () => {
    if (memory.buffer !== wasm.memory.buffer) memory = new Uint8Array(wasm.memory.buffer);
    return memory;
  };
  /** Runs `f` and zeroes the secret-bearing inputs afterwards, whatever happens. */
  const scrubbed = <T>(f: (m: Uint8Array) => T): T => {
    const m = mem();
    try {
      return f(m);
    } finally {
      m.fill(0, privOff, privOff + 32);
      m.fill(0, tweakOff, tweakOff + 32);
    }
  };

  return {
    name: "libsecp256k1-wasm",
    module,
    getPublicKey(priv32) {
      return scrubbed((m) => {
        m.set(priv32, privOff);
        if (wasm.pointFromScalar(65) !== 1) throw new Secp256k1WasmError("bad private key");
        return mem().slice(pubOff, pubOff + 65);
      });
    },
    sign(priv32, digest32): CompactSignature {
      return scrubbed((m) => {
        m.set(priv32, privOff);
        m.set(digest32, hashOff);
        const recovery = wasm.signRecoverable(0);
        return { bytes: mem().slice(sigOff, sigOff + 64), recovery };
      });
    },
    verify(pub65, digest32, sig64) {
      const m = mem();
      m.set(pub65, pubOff);
      m.set(digest32, hashOff);
      m.set(sig64, sigOff);
      try {
        return wasm.verify(65, 1) === 1;
      } catch {
        return false;
      }
    },
    recover(digest32, sig64, recovery) {
      const m = mem();
      m.set(digest32, hashOff);
      m.set(sig64, sigOff);
      if (wasm.recover(65, recovery) !== 1) throw new Secp256k1WasmError("no public key recovers");
      return mem().slice(pubOff, pubOff + 65);
    },
    ecdh(priv32, pub65) {
      // libsecp256k1 takes the scalar as a "tweak", which may be zero; a private key may not.
      if (!isValidScalar(priv32)) throw new Secp256k1WasmError("bad private key");
      return scrubbed((m) => {
        m.set(pub65, pubOff);
        m.set(priv32, tweakOff);
        if (wasm.pointMultiply(65, 65) !== 1) throw new Secp256k1WasmError("bad point");
        return mem().slice(pubOff, pubOff + 65);
      });
    },
  };
}
