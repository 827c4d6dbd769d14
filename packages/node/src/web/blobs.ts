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
import { Code, httpStatusFromCode, XmtpError } from "@xmtp-ts/protocol";
import type { FastifyInstance, FastifyReply } from "fastify";
import { verifyBearer } from "../api/auth.js";
import type { BlobStore } from "./blob-store.js";

/** Default largest blob: a 3 MB photo or a short video fits, a disk image does not. */
export const DEFAULT_MAX_BLOB_BYTES = 32 * 1024 * 1024;

export interface BlobRoutesOptions {
  store: BlobStore;
  /** Require a Publish auth token (the node's `auth` setting). */
  auth: boolean;
  maxBytes?: number;
}

const DIGEST = /^[0-9a-f]{64}$/;

function fail(reply: FastifyReply, err: XmtpError): FastifyReply {
  return reply
    .code(httpStatusFromCode(err.code))
    .header("content-type", "application/json")
    .send(Buffer.from(JSON.stringify({ code: err.code, message: err.message, details: [] })));
}

/** Registers the blob routes in their own scope (their body parser reads raw bytes). */
export function registerBlobRoutes(app: FastifyInstance, opts: BlobRoutesOptions): void {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BLOB_BYTES;
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: maxBytes }, (_req, body, done) =>
      done(null, body),
    );
    scope.setErrorHandler((err, _req, reply) => {
      const e = err as { statusCode?: number; code?: string; message: string };
      if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE" || e.statusCode === 413) {
        reply.header("connection", "close");
        return fail(
          reply,
          new XmtpError(Code.ResourceExhausted, `blob larger than the node accepts (${maxBytes} bytes)`),
        );
      }
      if (err instanceof XmtpError) return fail(reply, err);
      return fail(reply, new XmtpError(Code.Internal, "internal error"));
    });

    scope.post("/blobs", { bodyLimit: maxBytes }, async (req, reply) => {
      let uploader = "";
      if (opts.auth)
        uploader = verifyBearer(req.headers.authorization, BigInt(Date.now()) * 1_000_000n).walletAddress;
      const body = req.body as Buffer | undefined;
      if (!body || body.length === 0)
        throw new XmtpError(Code.InvalidArgument, "empty blob: send the encrypted bytes as the body");
      const digest = createHash("sha256").update(body).digest("hex");
      await opts.store.put(digest, body, uploader);
      const host = req.headers.host ?? "localhost";
      return reply
        .code(200)
        .header("content-type", "application/json")
        .send(Buffer.from(JSON.stringify({ digest, url: `${req.protocol}://${host}/blobs/${digest}` })));
    });

    scope.get<{ Params: { digest: string } }>("/blobs/:digest", async (req, reply) => {
      const digest = req.params.digest.toLowerCase();
      if (!DIGEST.test(digest))
        throw new XmtpError(Code.InvalidArgument, "a blob is named by the 64 hex digits of its sha256");
      const blob = await opts.store.get(digest);
      if (!blob) throw new XmtpError(Code.NotFound, "no such blob");
      return reply
        .code(200)
        .header("content-type", "application/octet-stream")
        .header("cache-control", "public, max-age=31536000, immutable")
        .send(Buffer.from(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.byteLength));
    });
  });
}
