// Writes the web app's screenshots into docs/screenshots/: a spawned `xmtp node` (serving the
// built app), two identities in Debian's Chromium chatting (text, a reply, a reaction, an image),
// then the app at desktop (1280×800) and phone (390×844) sizes.
//
//   npm run build && npm run screenshots
//
// Reactions are emoji: install an emoji font first (Debian: fonts-noto-color-emoji), or they show
// as empty boxes. The interface's own icons are inline SVG and need no font.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { launchProfile } from "./chromium.mjs";

const CLI = fileURLToPath(new URL("../../cli/bin/xmtp.js", import.meta.url));
const OUT = fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url));
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const dirs = [];

function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** `xmtp node` on free ports; resolves with its URL once it prints it. */
function startNode() {
  const proc = spawn(
    process.execPath,
    [CLI, "node", "--http-port", "0", "--grpc-port", "0", "--p2p-port", "0", "--host", "127.0.0.1"].concat([
      "--log-level",
      "warn",
      "--data-dir",
      tempDir("xmtp-shots-node-"),
    ]),
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (c) => {
      out += c;
      const m = /HTTP\/JSON\s+(http:\/\/\S+)/.exec(out);
      if (m)
        resolve({
          url: m[1],
          stop: () =>
            new Promise((r) => {
              proc.once("exit", r);
              proc.kill("SIGTERM");
            }),
        });
    });
    proc.once("exit", (code) => reject(new Error(`node exited (${code})`)));
  });
}

async function browser(url, viewport) {
  const { context, page } = await launchProfile(tempDir("xmtp-shots-browser-"), viewport);
  cleanups.unshift(() => context.close());
  page.setDefaultTimeout(60_000);
  await page.goto(url);
  return { context, page };
}

async function signUp(page) {
  await page.getByRole("button", { name: "Create a new identity" }).click();
  return page.getByTestId("own-address").textContent();
}

const messages = (page) => page.getByRole("list", { name: "Messages" });
/** A message item by its text (accessible names collapse whitespace). */
const message = (page, text) =>
  messages(page)
    .getByRole("listitem", {
      name: new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")),
    })
    .first();

async function say(page, text) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await message(page, text).waitFor();
}

/** A small gradient PNG (an "image" to send), made here so the script needs no files. */
function gradientPng(w, h) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      raw.set([40 + (x * 180) / w, 80 + (y * 120) / h, 200], y * (w * 3 + 1) + 1 + x * 3);
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const cleanups = [];

async function main() {
  mkdirSync(OUT, { recursive: true });
  const node = await startNode();
  cleanups.push(() => node.stop());
  const alice = await browser(node.url, DESKTOP);
  const bob = await browser(node.url, DESKTOP);
  await alice.page.setViewportSize(PHONE);
  await alice.page.screenshot({ path: join(OUT, "phone-sign-in.png") });
  await alice.page.setViewportSize(DESKTOP);
  await signUp(alice.page);
  const bobAddress = await signUp(bob.page);

  await alice.page.getByRole("button", { name: "New conversation" }).click();
  await alice.page.getByRole("textbox", { name: "Address" }).fill(bobAddress);
  await alice.page.getByRole("button", { name: "Start" }).click();
  await say(alice.page, "gm! Trying the chat app that comes with our node.");
  await bob.page.getByRole("tab", { name: "Requests" }).click();
  await bob.page
    .getByRole("list", { name: "Conversations" })
    .getByRole("listitem")
    .first()
    .getByRole("button")
    .first()
    .click();
  await message(bob.page, "gm!").waitFor();
  await say(bob.page, "gm — it works from here too. Messages are end-to-end encrypted.");
  await message(alice.page, "it works from here").waitFor();
  await message(alice.page, "it works from here")
    .getByRole("button", { name: /^React to/ })
    .click();
  await message(alice.page, "it works from here").getByRole("button", { name: "React with 🎉" }).click();
  await message(alice.page, "gm!")
    .getByRole("button", { name: /^Reply to/ })
    .click();
  await say(alice.page, "And replies quote what they answer.");
  await alice.page
    .getByLabel("Attach a file")
    .setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: gradientPng(240, 140) });
  await alice.page.getByRole("img", { name: "sunset.png" }).waitFor();
  await bob.page.getByRole("img", { name: "sunset.png" }).waitFor();
  await say(bob.page, "Nice picture!\nShift+Enter makes a new line.");
  await message(alice.page, "Nice picture").waitFor();

  await alice.page.screenshot({ path: join(OUT, "desktop.png") });

  // A group of the two and a third identity, with its members panel open.
  const carol = await browser(node.url, DESKTOP);
  const carolAddress = await signUp(carol.page);
  await alice.page.getByRole("button", { name: "New group" }).click();
  await alice.page.getByRole("textbox", { name: "Group name" }).fill("weekend trip");
  await alice.page.getByRole("textbox", { name: "Description (optional)" }).fill("who brings what");
  await alice.page.getByRole("textbox", { name: /^Members/ }).fill(`${bobAddress}\n${carolAddress}`);
  await alice.page.getByRole("button", { name: "Create group" }).click();
  await alice.page
    .getByRole("region", { name: "Group weekend trip" })
    .waitFor()
    .catch(async (err) => {
      throw new Error(
        `${err.message}; the page says: ${await alice.page.getByRole("alert").allTextContents()}`,
      );
    });
  await say(alice.page, "I will bring the tent.");
  // Bob already allowed Alice, so her group is under his Messages; Carol finds it under Requests.
  for (const [who, text, request] of [
    [bob, "Snacks are on me.", false],
    [carol, "I can drive.", true],
  ]) {
    if (request) {
      await who.page.getByRole("tab", { name: "Requests" }).click();
      await who.page
        .getByRole("list", { name: "Conversations" })
        .getByRole("listitem", { name: /weekend trip/ })
        .getByRole("button", { name: "Allow" })
        .click();
    }
    await who.page.getByRole("tab", { name: "Messages" }).click();
    await who.page
      .getByRole("list", { name: "Conversations" })
      .getByRole("listitem", { name: /weekend trip/ })
      .getByRole("button")
      .first()
      .click();
    await say(who.page, text);
    await message(alice.page, text).waitFor();
  }
  await alice.page.getByRole("button", { name: /^Members \(/ }).click();
  await alice.page.screenshot({ path: join(OUT, "desktop-group.png") });
  await alice.page.getByRole("button", { name: /^Members \(/ }).click();
  await alice.page
    .getByRole("list", { name: "Conversations" })
    .getByRole("listitem")
    .filter({ hasNotText: "weekend trip" })
    .first()
    .getByRole("button")
    .first()
    .click();
  await alice.page.setViewportSize(PHONE);
  await alice.page.screenshot({ path: join(OUT, "phone-conversation.png") });
  await alice.page.getByRole("button", { name: "Back to conversations" }).click();
  await alice.page.screenshot({ path: join(OUT, "phone-conversations.png") });

  console.log(`screenshots written to ${OUT}`);
}

main()
  .then(
    () => 0,
    (err) => {
      console.error(err);
      return 1;
    },
  )
  .then(async (code) => {
    for (const c of cleanups) await c().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5 });
    process.exit(code);
  });
