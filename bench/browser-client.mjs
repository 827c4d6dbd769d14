// Client SDKs in a browser: our SDK's default entry bundled by esbuild (with dist/secp256k1.wasm
// and the curve worker beside the bundle, as a bundler would emit them) against xmtp-js 12.1.0's browser build bundled
// the same way, in the same headless Chromium, against the same `xmtp node`. Each run is a fresh
// browser context (a cold client: keys loaded from the network, not timed).
//
//   npx tsc -b packages/cli packages/client && node bench/browser-client.mjs
//
// Env: BENCH_LIST (conversations, default 300), BENCH_MESSAGES (V2 messages, 10000), BENCH_ROUNDS (2),
// BENCH_PROFILE=<dir> (writes a DevTools CPU profile of each timed run there, <sdk>-<task>-<round>.cpuprofile).
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../packages/web/scripts/chromium.mjs";
import { seedInvitations, seedMessages, startNode, stopNode } from "./client-setup.mjs";

const LIST = Number(process.env.BENCH_LIST ?? 300);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PROFILE = process.env.BENCH_PROFILE;
const root = fileURLToPath(new URL("..", import.meta.url));

// The timed part is the same for both SDKs: conversations.list(), or messages() of one conversation.
const TASK = `
async function timed(client, task, a) {
  let start = performance.now();
  const convos = await client.conversations.list();
  if (task === "list") return { ms: performance.now() - start, count: convos.length };
  const convo = convos.find((c) => c.topic === a.topic);
  start = performance.now();
  const msgs = await convo.messages();
  return { ms: performance.now() - start, count: msgs.length };
}
`;

const ENTRIES = {
  ours: `
import { Client, fromViemAccount } from "@xmtp-ts/client";
import { secp256k1Backend } from "@xmtp-ts/protocol";
import { privateKeyToAccount } from "viem/accounts";
${TASK}
let client;
window.setup = async (a) => {
  client = await Client.create(fromViemAccount(privateKeyToAccount(a.key)), {
    apiUrl: a.apiUrl,
    skipContactPublishing: true,
  });
};
window.bench = async (task, a) => ({ ...(await timed(client, task, a)), backend: secp256k1Backend().name });`,
  xmtpjs: `
import { Client } from "@xmtp/xmtp-js";
import { privateKeyToAccount } from "viem/accounts";
${TASK}
let client;
window.setup = async (a) => {
  const account = privateKeyToAccount(a.key);
  const wallet = {
    getAddress: async () => account.address,
    signMessage: (m) => account.signMessage({ message: typeof m === "string" ? m : { raw: Uint8Array.from(m) } }),
  };
  client = await Client.create(wallet, { apiUrl: a.apiUrl, env: "local", skipContactPublishing: true });
};
window.bench = async (task, a) => ({ ...(await timed(client, task, a)), backend: "noble (xmtp-js)" });`,
};

/**
 * Bundles both entries into `dir/<sdk>/app.js` with the WebAssembly files each loads beside it.
 * xmtp-js's browser build uses Node's `Buffer`, which apps supply with the `buffer` package.
 */
async function bundle(dir) {
  const bufferShim = join(dir, "buffer-shim.js");
  writeFileSync(bufferShim, 'export { Buffer } from "buffer";');
  for (const [sdk, code] of Object.entries(ENTRIES)) {
    const entry = join(dir, `${sdk}.js`);
    writeFileSync(entry, code);
    await build({
      entryPoints: [entry],
      outfile: join(dir, sdk, "app.js"),
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      // Readable names in profiles.
      minify: !PROFILE,
      define: { global: "globalThis" },
      inject: sdk === "xmtpjs" ? [bufferShim] : [],
      nodePaths: [join(root, "node_modules")],
      logLevel: "error",
    });
    writeFileSync(
      join(dir, sdk, "index.html"),
      '<!doctype html><script type="module" src="app.js"></script>',
    );
  }
  copyFileSync(join(root, "packages/protocol/dist/secp256k1.wasm"), join(dir, "ours", "secp256k1.wasm"));
  // The curve worker, bundled on its own beside the app (Vite and webpack do this by themselves).
  await build({
    entryPoints: [join(root, "packages/client/dist/conversations/curve-worker.js")],
    outfile: join(dir, "ours", "curve-worker.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    nodePaths: [join(root, "node_modules")],
    logLevel: "error",
  });
  const prefs = join(root, "node_modules/@xmtp/user-preferences-bindings-wasm/dist/web");
  copyFileSync(
    join(prefs, "user_preferences_bindings_wasm_bg.wasm"),
    join(dir, "xmtpjs", "user_preferences_bindings_wasm_bg.wasm"),
  );
}

function serve(dir) {
  const types = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
  const server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    try {
      const body = readFileSync(path);
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

const node = await startNode();
const dir = mkdtempSync(join(tmpdir(), "xmtp-bench-browser-"));
let browser;
let server;
try {
  console.log(
    `# Client SDKs in headless Chromium (${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load ${loadavg()[0].toFixed(1)})`,
  );
  let t = performance.now();
  const { listers, peer } = await seedInvitations(node.url, [LIST]);
  const lister = listers.get(LIST);
  const topic = await seedMessages(lister.client, peer, MESSAGES);
  await lister.client.close();
  console.log(`setup: ${LIST} invitations, ${MESSAGES} messages in ${Math.round(performance.now() - t)} ms`);
  t = performance.now();
  await bundle(dir);
  server = await serve(dir);
  const base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  console.log(`bundled and launched in ${Math.round(performance.now() - t)} ms`);
  const args = { apiUrl: node.url, key: lister.key, topic };
  const run = async (sdk, task, round) => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${base}/${sdk}/index.html`);
      await page
        .waitForFunction(() => typeof window.bench === "function" || window.failed, null, {
          timeout: 120_000,
        })
        .catch((e) => errors.push(String(e)));
      if (errors.length > 0) throw new Error(`${sdk}: ${errors.join("; ")}`);
      // The client is created first (keys loaded from the network), untimed and unprofiled.
      await page.evaluate((a) => window.setup(a), args);
      const cdp = PROFILE ? await context.newCDPSession(page) : undefined;
      if (cdp) {
        await cdp.send("Profiler.enable");
        await cdp.send("Profiler.setSamplingInterval", { interval: 500 });
        await cdp.send("Profiler.start");
      }
      const r = await page.evaluate(([task, a]) => window.bench(task, a), [task, args]);
      if (cdp) {
        const { profile } = await cdp.send("Profiler.stop");
        writeFileSync(join(PROFILE, `${sdk}-${task}-${round}.cpuprofile`), JSON.stringify(profile));
      }
      if (errors.length > 0) throw new Error(`${sdk}: ${errors.join("; ")}`);
      return r;
    } finally {
      await context.close();
    }
  };
  const rows = [];
  for (const [task, expected, label] of [
    ["list", LIST, `list ${LIST} conversations, cold client`],
    ["decrypt", MESSAGES, `read and decrypt ${MESSAGES} V2 messages`],
  ]) {
    let best;
    for (let r = 0; r < ROUNDS; r++) {
      const ours = await run("ours", task, r + 1);
      const theirs = await run("xmtpjs", task, r + 1);
      if (ours.count !== expected || theirs.count !== expected)
        throw new Error(`${task}: expected ${expected}, ours ${ours.count}, xmtp-js ${theirs.count}`);
      console.log(
        `  ${task} round ${r + 1}: ours ${Math.round(ours.ms)} ms (${ours.backend}), xmtp-js ${Math.round(theirs.ms)} ms`,
      );
      best = {
        ours: Math.min(best?.ours ?? Infinity, ours.ms),
        theirs: Math.min(best?.theirs ?? Infinity, theirs.ms),
      };
    }
    rows.push(
      `| ${label} | ${Math.round(best.ours)} ms | ${Math.round(best.theirs)} ms | **${(best.theirs / best.ours).toFixed(2)}×** | ≥ 5× |`,
    );
  }
  console.log(`load average after the runs: ${loadavg()[0].toFixed(1)}`);
  for (const l of [
    "| task (headless Chromium) | ours | xmtp-js 12.1.0 | speed-up | goal |",
    "|---|---|---|---|---|",
    ...rows,
  ])
    console.log(l);
} finally {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r()));
  await stopNode(node);
  rmSync(dir, { recursive: true, force: true });
}
