/**
 * The blob endpoint for remote attachments (XIP-17) on the HTTP port, so a self-hosted network
 * needs no third-party storage:
 *
 * - `POST /blobs`: the body is an encrypted blob (any Content-Type), at most `maxBytes`. With
 *   auth on (as for Publish), a valid `Authorization: Bearer <token>` is required (protocol.md §4).
 *   Answers `{"digest":"<sha256 hex>","url":"<origin>/blobs/<digest>"}`; uploading the same bytes
 *   again is harmless.
 * - `GET /blobs/<sha256 hex>`: the bytes, immutable (the name is their hash).
 *
 * Errors use the gateway's `{"code","message","details"}` shape.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { Code, httpStatusFromCode, XmtpError } from "@xmtp-ts/protocol";
import type { FastifyInstance, FastifyReply } from "fastify";
import { verifyBearer } from "../api/auth.js";
import { detailHeaders } from "../api/errors.js";
import type { RequestContext } from "../api/types.js";
import type { ClientIpResolver } from "../transport/client-ip.js";
import { requestContext } from "../transport/http.js";
import type { BlobStore, BlobWriter } from "./blob-store.js";

/** Default largest blob: a 3 MB photo or a short video fits, a disk image does not. */
export const DEFAULT_MAX_BLOB_BYTES = 32 * 1024 * 1024;

/**
 * Default most uploads read at once: each holds up to its blob in memory until it is stored, so
 * this bounds the memory uploads take (16 × 32 MiB).
 */
export const DEFAULT_MAX_CONCURRENT_UPLOADS = 16;

export interface BlobRoutesOptions {
  store: BlobStore;
  /** Require a Publish auth token (the node's `auth` setting). */
  auth: boolean;
  maxBytes?: number;
  /** Uploads read at once; more get 429 code 8 until one ends (default 16). */
  maxConcurrentUploads?: number;
  /**
   * Charges an upload of `bytes` to its client (the node's rate limits); throws to refuse it.
   * Called with the announced length before the body is read, or with the length read when none
   * was announced.
   */
  charge?: (ctx: RequestContext, bytes: number) => void;
  /** The client address of a request (trusted proxies), for `charge`. */
  clientIp: ClientIpResolver;
}

const DIGEST = /^[0-9a-f]{64}$/;

function fail(reply: FastifyReply, err: XmtpError): FastifyReply {
  return reply
    .code(httpStatusFromCode(err.code))
    .header("content-type", "application/json")
    .send(Buffer.from(JSON.stringify({ code: err.code, message: err.message, details: [] })));
}

/**
 * Reads an upload, hashing each chunk as it arrives, into `sink` (written as it comes, the stream
 * paused while a write is pending) or, without one, into memory. Past `maxBytes` it stops reading
 * (without destroying the stream, so the refusal can still be answered) and rejects with
 * `tooLarge()`.
 */
function readBlob(
  body: Readable,
  maxBytes: number,
  tooLarge: () => Error,
  sink: BlobWriter | undefined,
): Promise<{ chunks: Buffer[]; size: number; digest: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    const chunks: Buffer[] = [];
    let size = 0;
    let writing: Promise<void> = Promise.resolve();
    let failed = false;
    const stop = (err: Error) => {
      if (failed) return;
      failed = true;
      body.off("data", onData);
      body.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return stop(tooLarge());
      hash.update(chunk);
      if (!sink) {
        chunks.push(chunk);
        return;
      }
      body.pause();
      writing = sink.write(chunk).then(
        () => {
          if (!failed) body.resume();
        },
        (err: Error) => stop(err),
      );
    };
    body.on("data", onData);
    body.once("end", () => {
      void writing.then(() => {
        if (!failed) resolve({ chunks, size, digest: hash.digest("hex") });
      });
    });
    body.once("error", (err) => stop(err));
    body.once("close", () => {
      if (!body.readableEnded) stop(new XmtpError(Code.InvalidArgument, "the upload ended early"));
    });
  });
}

/** Registers the blob routes in their own scope (their body is read as a stream, see below). */
export function registerBlobRoutes(app: FastifyInstance, opts: BlobRoutesOptions): void {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BLOB_BYTES;
  const maxUploads = opts.maxConcurrentUploads ?? DEFAULT_MAX_CONCURRENT_UPLOADS;
  const tooLarge = () =>
    new XmtpError(Code.ResourceExhausted, `blob larger than the node accepts (${maxBytes} bytes)`);
  let uploads = 0;
  app.register(async (scope) => {
    // The handler reads the body itself: hashed chunk by chunk as it arrives (no 32 MiB hash in
    // one go on the event loop) and refused as soon as it passes the cap.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
    scope.setErrorHandler((err, req, reply) => {
      // Refused before the whole body arrived (no token, over the cap, too many uploads): the
      // connection closes after the answer rather than reading the rest.
      if (!req.raw.complete) reply.header("connection", "close");
      if (err instanceof XmtpError) return fail(reply.headers(detailHeaders(err)), err);
      return fail(reply, new XmtpError(Code.Internal, "internal error"));
    });

    scope.post("/blobs", async (req, reply) => {
      let uploader = "";
      if (opts.auth)
        uploader = verifyBearer(req.headers.authorization, BigInt(Date.now()) * 1_000_000n).walletAddress;
      const announced = Number(req.headers["content-length"] ?? 0);
      if (announced > maxBytes) throw tooLarge();
      if (uploads >= maxUploads)
        throw new XmtpError(Code.ResourceExhausted, "too many blob uploads at once: try again shortly");
      const ctx = requestContext(req, opts.clientIp);
      if (announced > 0) opts.charge?.(ctx, announced);
      uploads++;
      try {
        const sink = opts.store.writer?.();
        let digest: string;
        try {
          const read = await readBlob(req.body as Readable, maxBytes, tooLarge, sink);
          const { chunks, size } = read;
          digest = read.digest;
          if (size === 0)
            throw new XmtpError(Code.InvalidArgument, "empty blob: send the encrypted bytes as the body");
          if (announced === 0) opts.charge?.(ctx, size);
          if (sink) await sink.commit(digest, uploader);
          else await opts.store.put(digest, Buffer.concat(chunks, size), uploader);
        } catch (err) {
          await sink?.abort();
          throw err;
        }
        const host = req.headers.host ?? "localhost";
        return reply
          .code(200)
          .header("content-type", "application/json")
          .send(Buffer.from(JSON.stringify({ digest, url: `${req.protocol}://${host}/blobs/${digest}` })));
      } finally {
        uploads--;
      }
    });

    scope.get<{ Params: { digest: string } }>("/blobs/:digest", async (req, reply) => {
      const digest = req.params.digest.toLowerCase();
      if (!DIGEST.test(digest))
        throw new XmtpError(Code.InvalidArgument, "a blob is named by the 64 hex digits of its sha256");
      const found = () =>
        reply
          .code(200)
          .header("content-type", "application/octet-stream")
          .header("cache-control", "public, max-age=31536000, immutable");
      // Streamed from a file where the store has one (a download never holds a whole blob).
      const file = await opts.store.open?.(digest);
      if (file) return found().header("content-length", file.size).send(file.stream);
      const blob = await opts.store.get(digest);
      if (!blob) throw new XmtpError(Code.NotFound, "no such blob");
      return found().send(Buffer.from(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.byteLength));
    });
  });
}
