// Places tiny-secp256k1's libsecp256k1 binary beside the built secp256k1-wasm.js, where browsers
// fetch it by default (`new URL("./secp256k1.wasm", import.meta.url)`) and bundlers find it.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entry = createRequire(import.meta.url).resolve("tiny-secp256k1"); // lib/cjs/index.cjs
const dist = join(here, "..", "dist");
mkdirSync(dist, { recursive: true });
copyFileSync(join(dirname(entry), "..", "secp256k1.wasm"), join(dist, "secp256k1.wasm"));
