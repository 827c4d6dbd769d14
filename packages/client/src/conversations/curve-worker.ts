/**
 * Worker side of the curve pool (curve-pool.ts): loads its own libsecp256k1 and runs curve jobs.
 * It imports only the WebAssembly loader and curve-jobs.ts, so it is ready within tens of ms.
 *
 * Runs as a Node worker thread or a browser module worker. Either waits for its first message,
 * which carries the compiled `WebAssembly.Module` the calling thread already has (the binary is
 * then neither read nor compiled twice, and both threads run the same machine code); without one,
 * it loads the binary from the default place.
 */

import type { Secp256k1Backend } from "@xmtp-ts/protocol";
import { loadWasmSecp256k1, type WasmSource } from "@xmtp-ts/protocol/secp256k1-wasm";
import { packResults, runCurveJob, unpackJobs } from "./curve-jobs.js";

/**
 * Jobs and results travel packed (curve-jobs.ts `packJobs`, `packResults`), their buffers
 * transferred. The first message is `{ id: 0, wasm }`, the module to instantiate (if any).
 */
export type CurveRequest = { id: number; jobs: Uint8Array } | { id: 0; wasm: object | undefined };
export type CurveReply = { id: number; results?: Uint8Array; error?: string; ready?: string };

interface Port {
  post(m: CurveReply, transfer?: ArrayBuffer[]): void;
  onMessage(f: (m: CurveRequest) => void): void;
}

type WorkerThreads = typeof import("node:worker_threads");
const nodePort = (
  (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.(
    "node:worker_threads",
  ) as WorkerThreads | undefined
)?.parentPort;

/** A dedicated worker's global scope (never the page's: `window` has a `postMessage` too). */
interface WorkerScope {
  postMessage(m: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(ev: "message", f: (e: { data: unknown }) => void): void;
}
const scopeClass = (globalThis as { WorkerGlobalScope?: abstract new () => unknown }).WorkerGlobalScope;
const browserScope =
  !nodePort && scopeClass !== undefined && globalThis instanceof scopeClass
    ? (globalThis as unknown as WorkerScope)
    : undefined;

const port: Port | undefined = nodePort
  ? {
      post: (m, t) => nodePort.postMessage(m, t),
      onMessage: (f) => nodePort.on("message", f),
    }
  : browserScope
    ? {
        post: (m, t) => browserScope.postMessage(m, t ?? []),
        onMessage: (f) => browserScope.addEventListener("message", (e) => f(e.data as CurveRequest)),
      }
    : undefined;

if (port) {
  let backend: Promise<Secp256k1Backend> | undefined;
  const start = (source?: WasmSource) => {
    const b = loadWasmSecp256k1(source);
    b.then(
      (loaded) => port.post({ id: 0, ready: loaded.name }),
      (err) => port.post({ id: 0, error: String(err) }),
    );
    return b;
  };
  port.onMessage((req) => {
    if ("wasm" in req) {
      backend ??= start(req.wasm);
      return;
    }
    backend ??= start();
    backend
      .then((b) => packResults(unpackJobs(req.jobs).map((j) => runCurveJob(b, j))))
      .then(
        (results) => port.post({ id: req.id, results }, [results.buffer as ArrayBuffer]),
        (err) => port.post({ id: req.id, error: String(err) }),
      );
  });
}
