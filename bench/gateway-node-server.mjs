// A node without optional parts (no Waku relay): store → API → HTTP/gRPC only, for
// bench/gateway.mjs to separate the API path's cost from the relay's. Prints its HTTP port.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNode, resolveConfig } from "../packages/node/dist/index.js";

const node = createNode(
  resolveConfig({
    host: "127.0.0.1",
    httpPort: 0,
    grpcPort: 0,
    auth: false,
    logLevel: "warn",
    dataDir: process.argv[2] ?? mkdtempSync(join(tmpdir(), "xmtp-bench-api-")),
  }),
);
await node.start();
process.stdout.write(`${new URL(node.urls.http).port}\n`);
process.on("SIGTERM", () => node.stop().then(() => process.exit(0)));
