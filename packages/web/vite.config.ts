import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The app is served by `xmtp node` at `/`; assets get hashed names and are cached for long.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2048 },
});
