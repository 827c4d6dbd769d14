// Web app benchmark: the chat app in Debian's Chromium against a spawned `xmtp node`, for an
// account with 1,000 conversations (each with one message, all allowed). It times the page from
// sign-in (first visit: keys imported, nothing cached) and from reload (return visit: keys,
// conversation snapshot and previews in IndexedDB) until the conversation list shows all of them,
// and until every preview is filled. Baseline, same run: the SDK in Node starting cold from the
// same keys and listing the same conversations. Also prints the gzipped size of the built app.
//
//   npm run build && node bench/web.mjs
//
// Env: BENCH_CONVERSATIONS (default 1000), CHROMIUM_PATH (/usr/bin/chromium).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { generatePrivateKey } from "viem/accounts";
import { Client, fromPrivateKey } from "../packages/client/dist/index.js";
import { launchProfile } from "../packages/web/scripts/chromium.mjs";
import { cleanup, startNode } from "./network-support.mjs";

const COUNT = Number(process.env.BENCH_CONVERSATIONS ?? 1000);
const DIST = fileURLToPath(new URL("../packages/web/dist", import.meta.url));

/** Gzipped bytes of every file of the built app, by kind. */
function bundleSizes() {
  const sizes = {};
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const kind = name.split(".").pop();
        const raw = readFileSync(path);
        sizes[kind] ??= { raw: 0, gzip: 0 };
        sizes[kind].raw += raw.length;
        sizes[kind].gzip += gzipSync(raw).length;
      }
    }
  };
  walk(DIST);
  return sizes;
}

/** Runs `fn` over items with `n` at a time. */
async function pool(items, n, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  const node = await startNode();
  const apiUrl = node.url;
  console.log(`node at ${apiUrl}; seeding ${COUNT} conversations…`);
  const ownerKey = generatePrivateKey();
  const owner = await Client.create(fromPrivateKey(ownerKey), { apiUrl });
  const peers = [];
  const seeded = Date.now();
  await pool(
    Array.from({ length: COUNT }, (_, i) => i),
    8,
    async (i) => {
      const peer = await Client.create(fromPrivateKey(generatePrivateKey()), {
        apiUrl,
        skipContactPublishing: true,
      });
      const convo = await peer.conversations.newConversation(owner.address);
      await convo.send(`message ${i} from ${peer.address}`);
      peers.push(peer.address);
      await peer.close();
    },
  );
  await owner.consent.allow(peers);
  await owner.close();
  console.log(`seeded in ${secs(Date.now() - seeded)}`);

  // Baseline: the SDK in Node, cold, from the same keys.
  const baseStart = performance.now();
  const cold = await Client.create(fromPrivateKey(ownerKey), { apiUrl });
  const listed = await cold.conversations.list();
  const baseMs = performance.now() - baseStart;
  await cold.close();
  if (listed.length !== COUNT) throw new Error(`baseline listed ${listed.length}`);

  const dir = mkdtempSync(join(tmpdir(), "xmtp-bench-web-"));
  const { context, page } = await launchProfile(dir, { width: 1280, height: 800 });
  page.setDefaultTimeout(Number(process.env.BENCH_TIMEOUT_MS ?? 600_000));
  page.on("console", (m) => process.env.BENCH_DEBUG && console.log("page:", m.text()));
  const items = "#conversation-list > li";
  const allShown = () =>
    page.waitForFunction((n) => document.querySelectorAll("#conversation-list > li").length >= n, COUNT, {
      polling: 50,
    });
  const allPreviews = () =>
    page.waitForFunction(
      (n) => {
        const li = document.querySelectorAll("#conversation-list > li .preview");
        return li.length >= n && [...li].every((p) => p.textContent?.startsWith("message "));
      },
      COUNT,
      { polling: 100 },
    );

  await page.goto(apiUrl);
  await page.getByRole("button", { name: "Import a key" }).click();
  await page.getByLabel(/Wallet key/).fill(ownerKey);
  const firstStart = performance.now();
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await allShown();
  const firstList = performance.now() - firstStart;
  await allPreviews().catch(async (err) => {
    const texts = await page.locator("#conversation-list > li .preview").allTextContents();
    const missing = texts.filter((t) => !t.startsWith("message "));
    console.error(
      `previews missing: ${missing.length} of ${texts.length}, e.g. ${JSON.stringify(missing.slice(0, 3))}`,
    );
    throw err;
  });
  const firstPreviews = performance.now() - firstStart;
  // Let the cached previews be written before the return visit.
  await page.waitForTimeout(1500);

  const returnStart = performance.now();
  await page.reload();
  await allShown();
  const returnList = performance.now() - returnStart;
  await allPreviews();
  const returnPreviews = performance.now() - returnStart;
  const shown = await page.locator(items).count();

  await context.close();
  rmSync(dir, { recursive: true, force: true });
  await node.stop();
  cleanup();

  const sizes = bundleSizes();
  const total = Object.values(sizes).reduce((a, s) => a + s.gzip, 0);
  console.log(`\nconversations shown: ${shown}`);
  console.log("| measure | time | ratio |");
  console.log("|---|---|---|");
  console.log(`| baseline: SDK in Node, cold start + list of ${COUNT} | ${secs(baseMs)} | 1.00× |`);
  console.log(
    `| first visit: sign-in (import) → list of ${COUNT} | ${secs(firstList)} | ${(firstList / baseMs).toFixed(2)}× |`,
  );
  console.log(
    `| first visit: → every preview | ${secs(firstPreviews)} | ${(firstPreviews / baseMs).toFixed(2)}× |`,
  );
  console.log(
    `| return visit: reload → list of ${COUNT} | ${secs(returnList)} | ${(returnList / baseMs).toFixed(2)}× |`,
  );
  console.log(
    `| return visit: → every preview | ${secs(returnPreviews)} | ${(returnPreviews / baseMs).toFixed(2)}× |`,
  );
  console.log("\n| built app | raw | gzip |");
  console.log("|---|---|---|");
  for (const [kind, s] of Object.entries(sizes)) console.log(`| .${kind} | ${kb(s.raw)} | ${kb(s.gzip)} |`);
  console.log(`| total | | ${kb(total)} |`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    cleanup();
    process.exit(1);
  },
);
