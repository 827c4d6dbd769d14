import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);
const pkg = (name: string, entry = "index") =>
  fileURLToPath(new URL(`./packages/${name}/src/${entry}.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      // Tests run the TypeScript sources of the workspace packages directly.
      { find: /^@xmtp-ts\/proto\/waku$/, replacement: pkg("proto", "waku") },
      { find: /^@xmtp-ts\/client\/advanced$/, replacement: pkg("client", "advanced") },
      { find: /^@xmtp-ts\/client\/grpc$/, replacement: pkg("client", "grpc") },
      { find: /^@xmtp-ts\/(proto|protocol|node|client|cli)$/, replacement: pkg("$1") },
      // xmtp-js's ESM build imports @xmtp/proto's ESM build, which native Node ESM cannot load.
      { find: /^@xmtp\/proto$/, replacement: require.resolve("@xmtp/proto") },
    ],
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "e2e/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    server: { deps: { inline: [/@xmtp\//] } },
  },
});
