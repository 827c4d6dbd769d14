/**
 * The web part of the node: the blob endpoint for remote attachments, and (unless turned off with
 * `--no-web`) the web chat app at `/`. Registered on the HTTP listener through {@link NodePart.routes}.
 */
import type { NodeContext, NodePart } from "../node.js";
import { clientIpResolver } from "../transport/client-ip.js";
import { type BlobStore, createBlobStore } from "./blob-store.js";
import { registerBlobRoutes } from "./blobs.js";
import { registerWebApp } from "./static.js";

export interface WebPartOptions {
  /** The built app (a directory with index.html), or undefined to serve no app. */
  appDir: string | undefined;
  /** Serve the app at `/` (default true). */
  serveApp?: boolean;
  /** Largest accepted blob (default 32 MiB). */
  maxBlobBytes?: number;
  /** Blob uploads read at once (default 16). */
  maxConcurrentUploads?: number;
  /** Free space blob uploads leave on the data dir's file system (SQLite; default 256 MiB). */
  blobDiskReserveBytes?: number;
  /** A blob store instead of the one beside the node's store (tests). */
  blobStore?: BlobStore;
}

export function webPart(options: WebPartOptions): (ctx: NodeContext) => NodePart {
  return (ctx) => {
    const blobs =
      options.blobStore ?? createBlobStore(ctx.config, { diskReserveBytes: options.blobDiskReserveBytes });
    return {
      name: "web",
      start: () => blobs.start(),
      stop: () => blobs.stop(),
      routes(app) {
        registerBlobRoutes(app, {
          store: blobs,
          auth: ctx.config.auth,
          ...(options.maxBlobBytes !== undefined ? { maxBytes: options.maxBlobBytes } : {}),
          ...(options.maxConcurrentUploads !== undefined
            ? { maxConcurrentUploads: options.maxConcurrentUploads }
            : {}),
          charge: (req, bytes) => ctx.api.chargeUpload(req, bytes),
          clientIp: clientIpResolver(ctx.config.trustedProxies),
        });
        if (options.serveApp !== false) registerWebApp(app, options.appDir);
      },
    };
  };
}
