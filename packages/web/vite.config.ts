import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/** The node the dev server forwards the API to (`npm run dev`); `xmtp node` listens on 5555. */
const NODE = process.env.XMTP_NODE_URL ?? "http://localhost:5555";
/** The node's API and blob paths (the rest is the app). */
const API_PATHS = ["/message", "/xmtp.", "/grpc.", "/blobs", "/healthz"];

// The app is served by `xmtp node` at `/`; assets get hashed names and are cached for long. In
// development the Vite server serves it instead and forwards the API to a running node, so the
// app's default (the node that served the page) works there too.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2048 },
  server: { proxy: Object.fromEntries(API_PATHS.map((p) => [p, { target: NODE, changeOrigin: true }])) },
});
