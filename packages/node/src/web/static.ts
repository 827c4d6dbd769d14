/**
 * Serves the built web app (packages/web/dist) at `/` on the HTTP port. Files are served as they
 * are (hashed assets cached for a year, index.html never cached); any other GET that is not an
 * API path gets index.html, so the app's own paths survive a reload. API paths keep their 404s.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

/** Paths that belong to the node, never to the app. */
const API_PATHS = /^\/(message\/|xmtp\.|grpc\.|blobs(\/|$)|healthz$|metrics$)/;

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>XMTP node</title></head>
<body style="font-family: system-ui; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>XMTP node</h1><p>This node is running, but its web app has not been built.</p>
<p>Build it with <code>npm run build -w packages/web</code> (or <code>npm install</code> at the repository root),
then restart the node. The API is served here as usual.</p></body></html>`;

export function registerWebApp(app: FastifyInstance, appDir: string | undefined): void {
  const index = appDir === undefined ? undefined : join(appDir, "index.html");
  if (appDir === undefined || index === undefined || !existsSync(index)) {
    app.get("/", (_req, reply) => reply.code(200).type("text/html; charset=utf-8").send(NOT_BUILT));
    return;
  }
  app.register(fastifyStatic, {
    root: appDir,
    wildcard: false,
    cacheControl: false,
    index: ["index.html"],
    setHeaders(res, path) {
      res.setHeader(
        "cache-control",
        path.endsWith("index.html") ? "no-cache" : "public, max-age=31536000, immutable",
      );
    },
  });
  app.get("/*", (req, reply) => {
    const path = req.url.split("?")[0] ?? "/";
    if (API_PATHS.test(path) || /\.[a-z0-9]+$/i.test(path)) return reply.callNotFound();
    return reply.header("cache-control", "no-cache").sendFile("index.html");
  });
}
