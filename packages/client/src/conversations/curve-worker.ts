/**
 * Worker-thread side of the curve pool (curve-pool.ts): loads its own libsecp256k1 and runs curve
 * jobs. It imports only the WebAssembly loader and curve-jobs.ts, so it is ready within tens of ms.
 */
import { loadWasmSecp256k1 } from "@xmtp-ts/protocol/secp256k1-wasm";
import { packResults, runCurveJob, unpackJobs } from "./curve-jobs.js";

type WorkerThreads = typeof import("node:worker_threads");
const wt = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.("node:worker_threads") as WorkerThreads | undefined;

/** Jobs and results travel packed (curve-jobs.ts `packJobs`, `packResults`), their buffers transferred. */
export type CurveRequest = { id: number; jobs: Uint8Array };
export type CurveReply = { id: number; results?: Uint8Array; error?: string; ready?: string };

const port = wt?.parentPort;
if (port) {
  const backend = loadWasmSecp256k1();
  backend.then(
    (b) => port.postMessage({ id: 0, ready: b.name } satisfies CurveReply),
    (err) => port.postMessage({ id: 0, error: String(err) } satisfies CurveReply),
  );
  port.on("message", (req: CurveRequest) => {
    backend
      .then((b) => packResults(unpackJobs(req.jobs).map((j) => runCurveJob(b, j))))
      .then(
        (results) =>
          port.postMessage({ id: req.id, results } satisfies CurveReply, [results.buffer as ArrayBuffer]),
        (err) => port.postMessage({ id: req.id, error: String(err) } satisfies CurveReply),
      );
  });
}
