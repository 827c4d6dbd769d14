/**
 * Worker-thread side of the crypto pool (see worker-pool.ts): opens invitations and decodes V2
 * messages with the same functions the main thread uses, and sends back results or typed reasons.
 */
import type { Envelope } from "@xmtp-ts/proto";
import { initSecp256k1 } from "@xmtp-ts/protocol";
import type { OwnKeys } from "../keys/own-keys.js";
import { InvitationError, type OpenCache, openInvitation } from "./invitation.js";
import { type DecodeV2Input, decodeMessageV2, MessageDecodeError } from "./v2.js";

type WorkerThreads = typeof import("node:worker_threads");
const wt = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.("node:worker_threads") as WorkerThreads | undefined;

export type WorkerRequest =
  | { id: number; kind: "open"; own: OwnKeys; items: Envelope[] }
  | { id: number; kind: "v2"; items: Omit<DecodeV2Input, "verified">[] };

export type WorkerResult =
  | { ok: true; value: unknown }
  | { ok: false; error: "invitation" | "message" | "other"; reason: string; message: string };

const cache: OpenCache = { verified: new Map() };
const verified = new Map<string, string>();

function failure(err: unknown): WorkerResult {
  if (err instanceof InvitationError)
    return { ok: false, error: "invitation", reason: err.reason, message: err.message };
  if (err instanceof MessageDecodeError)
    return { ok: false, error: "message", reason: err.reason, message: err.message };
  return {
    ok: false,
    error: "other",
    reason: "malformed",
    message: err instanceof Error ? err.message : String(err),
  };
}

async function handle(req: WorkerRequest): Promise<WorkerResult[]> {
  const out: WorkerResult[] = [];
  if (req.kind === "open") {
    for (const env of req.items) {
      try {
        out.push({ ok: true, value: await openInvitation(req.own, env, cache) });
      } catch (err) {
        out.push(failure(err));
      }
    }
  } else {
    for (const input of req.items) {
      try {
        const d = await decodeMessageV2({ ...input, verified });
        out.push({ ok: true, value: d });
      } catch (err) {
        out.push(failure(err));
      }
    }
  }
  return out;
}

const port = wt?.parentPort;
if (port) {
  // Each worker loads its own libsecp256k1 instance; jobs wait for it rather than run on noble.
  const ready = initSecp256k1().then((b) => port.postMessage({ ready: b.name }));
  port.on("message", (req: WorkerRequest) => {
    ready
      .then(() => handle(req))
      .then(
        (results) => port.postMessage({ id: req.id, results }),
        (err) => port.postMessage({ id: req.id, error: String(err) }),
      );
  });
}
