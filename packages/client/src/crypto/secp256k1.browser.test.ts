/**
 * libsecp256k1 in a real browser: the client's default entry bundled by esbuild (ESM) with
 * `secp256k1.wasm` beside the bundle, as the package build ships it, loaded in headless Chromium.
 * The WebAssembly backend must load from there by itself, agree with noble and the vectors, and a
 * bundle served without the binary must keep working on noble.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { vectors } from "../test-vectors.js";

const CHROMIUM = "/usr/bin/chromium";
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Runs in the page: the backend the SDK loaded, vectors on it, and random keys against noble.
const ENTRY = `
import * as sdk from ${JSON.stringify(src("../index.ts"))};
import * as p from "@xmtp-ts/protocol";
import { curvePool, runCurveJobs } from ${JSON.stringify(src("../conversations/curve-pool.ts"))};
import { runCurveJob } from ${JSON.stringify(src("../conversations/curve-jobs.ts"))};

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const bytes = (h) => Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16));
const eq = (a, b) => hex(a) === hex(b);

window.check = async (v) => {
  const backend = await p.initSecp256k1();
  const out = { sdk: typeof sdk.Client, backend: backend.name, error: String(p.secp256k1LoadError() ?? "") };
  const alice = v.identities.alice, bob = v.identities.bob;
  out.publicKey = hex(p.getPublicKey(bytes(alice.identity_key.private_key_hex)));
  const sig = p.signCompact(bytes(alice.pre_key.private_key_hex), bytes(v.v2_message_example.signature_digest_hex));
  out.signature = hex(sig.bytes);
  out.ecdh = hex(p.ecdhSharedPoint(bytes(alice.identity_key.private_key_hex), bytes(bob.pre_key.public_key_hex)));
  let agree = 0;
  for (let i = 0; i < 50; i++) {
    const a = p.randomPrivateKey(), b = p.randomPrivateKey(), digest = crypto.getRandomValues(new Uint8Array(32));
    const pubB = p.nobleSecp256k1.getPublicKey(b);
    const s = backend.sign(a, digest), n = p.nobleSecp256k1.sign(a, digest);
    if (eq(backend.getPublicKey(b), pubB) && eq(s.bytes, n.bytes) && s.recovery === n.recovery &&
        eq(backend.ecdh(a, pubB), p.nobleSecp256k1.ecdh(a, pubB)) &&
        eq(backend.recover(digest, s.bytes, s.recovery), p.nobleSecp256k1.getPublicKey(a)) &&
        backend.verify(p.nobleSecp256k1.getPublicKey(a), digest, n.bytes)) agree++;
  }
  out.agree = agree;
  return out;
};

// The curve workers: started with the page's compiled module, they must compute what this thread
// computes; a worker whose script is missing leaves a batch to this thread.
window.curve = async () => {
  await p.initSecp256k1();
  Object.defineProperty(navigator, "hardwareConcurrency", { value: 2, configurable: true });
  const pool = curvePool();
  if (!pool) return { pool: false };
  await pool.whenStarted();
  const local = p.secp256k1Backend();
  const jobs = [];
  for (let i = 0; i < 20; i++) {
    const a = p.randomPrivateKey(), b = p.randomPrivateKey(), digest = crypto.getRandomValues(new Uint8Array(32));
    const s = local.sign(a, digest);
    jobs.push({
      ecdh: [[a, local.getPublicKey(b)], [b, local.getPublicKey(a)]],
      verify: [[local.getPublicKey(a), digest, s.bytes], [local.getPublicKey(b), digest, s.bytes]],
      recover: [digest, s.bytes, s.recovery],
    });
  }
  // A point off the curve: the job still answers, with no shared points.
  jobs.push({ ecdh: [[p.randomPrivateKey(), new Uint8Array(65).fill(4)]], verify: [] });
  const expected = JSON.stringify(jobs.map((j) => runCurveJob(local, j)), (k, v) => (v instanceof Uint8Array ? hex(v) : v));
  const ready = pool.readyWorkers();
  const viaWorker = ready.length > 0 ? await ready[0].run(jobs) : [];
  const shared = await runCurveJobs(jobs, local, pool.liveWorkers());
  const str = (r) => JSON.stringify(r, (k, v) => (v instanceof Uint8Array ? hex(v) : v));
  return {
    pool: true,
    ready: ready.length,
    backends: ready.map((w) => w.backend),
    workerAgrees: str(viaWorker) === expected,
    sharedAgrees: str(shared) === expected,
  };
};
`;

let dir: string;
let server: Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "xmtp-secp256k1-browser-"));
  const entry = join(dir, "entry.js");
  writeFileSync(entry, ENTRY);
  const wasm = join(
    fileURLToPath(new URL("../../../../node_modules/tiny-secp256k1/lib/", import.meta.url)),
    "secp256k1.wasm",
  );
  const bundle = (entryPoint: string, outfile: string) =>
    build({
      entryPoints: [entryPoint],
      outfile,
      bundle: true,
      format: "esm",
      platform: "browser",
      conditions: ["source", "browser", "import"],
      target: "es2022",
      logLevel: "silent",
      nodePaths: [src("../../../../node_modules")],
    });
  for (const sub of ["with", "without", "noworker"]) await bundle(entry, join(dir, sub, "app.js"));
  copyFileSync(wasm, join(dir, "with", "secp256k1.wasm"));
  copyFileSync(wasm, join(dir, "noworker", "secp256k1.wasm"));
  // The curve worker beside the app, bundled on its own (what Vite and webpack do by themselves).
  await bundle(src("../conversations/curve-worker.ts"), join(dir, "with", "curve-worker.js"));
  const types: Record<string, string> = {
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".html": "text/html",
  };
  server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (path.endsWith("/index.html")) {
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<!doctype html><script type="module" src="app.js"></script>');
      return;
    }
    try {
      const body = readFileSync(path);
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runIn(sub: string, fn: "check" | "curve" = "check") {
  const page = await browser.newPage();
  try {
    await page.goto(`${base}/${sub}/index.html`);
    await page.waitForFunction(() => typeof (window as { check?: unknown }).check === "function");
    return await page.evaluate(
      ([f, v]) =>
        (window as unknown as Record<string, (v: unknown) => Promise<Record<string, unknown>>>)[f]!(v),
      [fn, JSON.parse(JSON.stringify(vectors))] as const,
    );
  } finally {
    await page.close();
  }
}

const expected = {
  sdk: "function",
  publicKey: vectors.identities.alice.identity_key.public_key_hex,
  signature: vectors.v2_message_example.pre_key_signature.bytes_hex,
  ecdh: vectors.shared_secret_3dh.secret_hex.slice(0, 130),
  agree: 50,
};

test("the SDK's default entry loads libsecp256k1 from beside the bundle; it agrees with noble and the vectors", async () => {
  expect(await runIn("with")).toEqual({ ...expected, backend: "libsecp256k1-wasm", error: "" });
}, 120_000);

test("without the binary the SDK stays on noble, with the same results", async () => {
  const out = await runIn("without");
  expect(out).toMatchObject({ ...expected, backend: "noble" });
  expect(out.error).toMatch(/HTTP 404/);
}, 120_000);

test("curve workers start from the page's compiled module and compute what the page computes", async () => {
  expect(await runIn("with", "curve")).toEqual({
    pool: true,
    ready: 1,
    backends: ["libsecp256k1-wasm"],
    workerAgrees: true,
    sharedAgrees: true,
  });
}, 120_000);

test("a curve worker that cannot load leaves the batch to the page", async () => {
  expect(await runIn("noworker", "curve")).toEqual({
    pool: true,
    ready: 0,
    backends: [],
    workerAgrees: false,
    sharedAgrees: true,
  });
}, 120_000);

test("a page on noble starts no curve workers", async () => {
  expect(await runIn("without", "curve")).toEqual({ pool: false });
}, 120_000);
