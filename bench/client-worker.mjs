// One measured task of the client benchmark, run in its own process so peak memory is per SDK.
//   node bench/client-worker.mjs <ours|xmtpjs> <list|list-warm|decrypt|create> '<json args>'
// Prints one JSON line: { ms, count, maxRssMB }.
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { privateKeyToAccount } from "viem/accounts";
import { Client, fromViemAccount } from "../packages/client/dist/index.js";

const require = createRequire(import.meta.url);
const [, , sdk, task, argsJson] = process.argv;
const args = JSON.parse(argsJson);
const account = privateKeyToAccount(args.key);

function jsWallet() {
  return {
    getAddress: async () => account.address,
    signMessage: (m) =>
      account.signMessage({ message: typeof m === "string" ? m : { raw: Uint8Array.from(m) } }),
  };
}

/** A conversation store in one file (for the restarted-client measurement). */
const fileStore = (path) => ({
  get: async () => {
    try {
      return new Uint8Array(await readFile(path));
    } catch {
      return undefined;
    }
  },
  set: (_key, value) => writeFile(path, value),
});

/** Our client's transport (BENCH_TRANSPORT: http, connect, grpc-web or grpc on BENCH_GRPC_URL). */
async function network() {
  const t = process.env.BENCH_TRANSPORT ?? "http";
  if (t !== "grpc") return { apiUrl: args.apiUrl, apiTransport: t };
  const { grpcTransport } = await import("../packages/client/dist/grpc.js");
  return { apiUrl: process.env.BENCH_GRPC_URL, apiTransport: grpcTransport };
}

async function makeClient() {
  if (sdk === "ours")
    return Client.create(fromViemAccount(account), {
      ...(await network()),
      skipContactPublishing: true,
      ...(args.storePath ? { conversationStore: fileStore(args.storePath) } : {}),
    });
  const { Client: XmtpJsClient } = require("@xmtp/xmtp-js");
  return XmtpJsClient.create(jsWallet(), { apiUrl: args.apiUrl, env: "local", skipContactPublishing: true });
}

const started = performance.now();
const client = await makeClient();
let count = 0;
let ms = 0;
if (task === "list-warm") {
  // Client start (keys from the network, the stored conversations restored) and the listing.
  count = (await client.conversations.list()).length;
  ms = performance.now() - started;
} else if (task === "list") {
  const t0 = performance.now();
  const convos = await client.conversations.list();
  ms = performance.now() - t0;
  count = convos.length;
} else if (task === "decrypt") {
  const convos = await client.conversations.list();
  const convo = convos.find((c) => c.topic === args.topic);
  if (!convo) throw new Error("conversation not found");
  const t0 = performance.now();
  const msgs = await convo.messages();
  ms = performance.now() - t0;
  count = msgs.length;
} else if (task === "create") {
  const t0 = performance.now();
  const topics = new Set();
  for (const peer of args.peers) topics.add((await client.conversations.newConversation(peer)).topic);
  ms = performance.now() - t0;
  count = topics.size;
}
const maxRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(JSON.stringify({ ms: Math.round(ms), count, maxRssMB }));
await client.close();
process.exit(0);
