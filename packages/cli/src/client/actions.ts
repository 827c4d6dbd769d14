/**
 * The client commands other than `chat`: login, logout, conversations, messages, send, listen.
 * Loaded only when one of them runs (it brings the SDK); `whoami` lives in `whoami.ts`.
 */
import { createInterface } from "node:readline/promises";
import {
  bytesToHex,
  Client,
  type Conversation,
  type DecodedMessage,
  fromPrivateKey,
  Group,
  toBase64,
} from "@xmtp-ts/client";
import { SortDirection } from "@xmtp-ts/proto";
import { getPublicKey, publicKeyToAddress, randomPrivateKey } from "@xmtp-ts/protocol";
import {
  configDir,
  identityFile,
  loadIdentity,
  readKeyFile,
  removeIdentity,
  resolveApiUrl,
  saveIdentity,
  UserError,
} from "./config.js";
import { findGroup, groupJson, groupLabel, isAddressArgument } from "./groups.js";
import { startProgress, withProgress } from "./progress.js";
import { describe, formatLine, formatTime, isShown, messageJson, printJson, shortAddress } from "./render.js";
import {
  allowIfUnknown,
  type ClientFlags,
  conversationsWith,
  listConversations,
  openClient,
  peerAddress,
  requireReachable,
  startError,
} from "./session.js";

export interface OutputFlags {
  json?: boolean;
}

const out = (s: string) => process.stdout.write(`${s}\n`);
const note = (s: string) => process.stderr.write(`${s}\n`);

/** Runs `body` with a started client and always closes it. */
async function withClient<T>(flags: ClientFlags, body: (c: Client) => Promise<T>): Promise<T> {
  const client = await openClient(flags);
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

/** `xmtp identity`: a new random wallet key and its address, as JSON. */
export function identity(): void {
  const priv = randomPrivateKey();
  printJson({ key: `0x${bytesToHex(priv)}`, address: publicKeyToAddress(getPublicKey(priv)) });
}

/**
 * `xmtp login`: makes (or reads) a wallet key, starts the XMTP identity on the node (keys from the
 * network backup when the wallet has one, else new ones, published) and saves both.
 */
export async function login(flags: OutputFlags & { api?: string; keyFile?: string }): Promise<void> {
  const existing = loadIdentity();
  if (existing)
    throw new UserError(
      `already logged in as ${existing.address} (${identityFile()}); run \`xmtp logout\` first`,
    );
  const walletKey = flags.keyFile ? readKeyFile(flags.keyFile) : `0x${bytesToHex(randomPrivateKey())}`;
  const apiUrl = resolveApiUrl(flags.api, undefined);
  const client = await withProgress("starting the XMTP identity", async () => {
    try {
      return await Client.create(fromPrivateKey(walletKey), { apiUrl });
    } catch (err) {
      throw startError(apiUrl, err);
    }
  });
  try {
    saveIdentity({
      version: 1,
      address: client.address,
      walletKey,
      xmtpKeys: toBase64(client.exportKeys()),
      apiUrl,
      createdAt: new Date().toISOString(),
    });
  } finally {
    await client.close();
  }
  const file = identityFile();
  if (flags.json) {
    printJson({ address: client.address, apiUrl, identityFile: file, keySource: client.keySource });
    return;
  }
  out(`logged in as ${client.address} on ${apiUrl}`);
  note(
    `saved in ${file} (readable by you only)${flags.keyFile ? "" : "; it holds the only copy of the new wallet key: back it up"}`,
  );
}

/** `xmtp logout`: forgets the saved identity (after a confirmation: it may hold the only copy of the key). */
export async function logout(flags: OutputFlags & { yes?: boolean }): Promise<void> {
  const saved = loadIdentity();
  if (!saved) {
    if (flags.json) printJson({ address: null, removed: false });
    else note("not logged in");
    return;
  }
  if (!flags.yes) {
    if (!process.stdin.isTTY)
      throw new UserError(
        `logout deletes the wallet key of ${saved.address} in ${identityFile()}; back it up, then run \`xmtp logout --yes\``,
      );
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(
      `Delete the identity of ${saved.address}? ${identityFile()} may hold the only copy of its wallet key. [y/N] `,
    );
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      note("kept");
      return;
    }
  }
  removeIdentity(configDir());
  if (flags.json) printJson({ address: saved.address, removed: true });
  else out(`logged out ${saved.address}`);
}

/** The newest shown message of each conversation, read with batched queries. */
async function latestMessages(
  client: Client,
  convos: Conversation[],
): Promise<(DecodedMessage | undefined)[]> {
  const BATCH = 50;
  const result: (DecodedMessage | undefined)[] = [];
  const progress = startProgress("reading the latest messages");
  for (let i = 0; i < convos.length; i += BATCH) {
    const chunk = convos.slice(i, i + BATCH);
    const pages = (
      await client.api.batchQuery(
        chunk.map((c) => ({
          contentTopics: [c.topic],
          pagingInfo: { limit: 5, direction: SortDirection.DESCENDING },
        })),
      )
    ).map((r) => r.envelopes);
    for (const [j, c] of chunk.entries()) {
      let latest: DecodedMessage | undefined;
      for (const env of pages[j] ?? []) {
        const m = await c.decodeMessage(env).catch(() => undefined);
        if (m && isShown(m)) {
          latest = m;
          break;
        }
      }
      result.push(latest);
    }
    progress.update(`${result.length}/${convos.length}`);
  }
  progress.done(`${convos.length} conversations`);
  return result;
}

/** `xmtp conversations`: every conversation, latest activity first, with a preview of its newest message. */
export async function conversations(flags: ClientFlags & OutputFlags): Promise<void> {
  await withClient(flags, async (client) => {
    const convos = await listConversations(client);
    const [latest] = await Promise.all([latestMessages(client, convos), client.consent.load()]);
    const rows = convos
      .map((c, i) => ({ c, m: latest[i], at: (latest[i]?.sent ?? c.createdAt).getTime() }))
      .sort((a, b) => b.at - a.at);
    for (const { c, m, at } of rows) {
      // A group's consent is its creator's (docs/groups.md §8); your own groups are yours.
      const consent =
        c.peerAddress === client.address ? "allowed" : client.consent.consentState(c.peerAddress);
      if (flags.json) {
        printJson({
          peerAddress: c.peerAddress,
          topic: c.topic,
          version: c.conversationVersion,
          conversationId: c.context?.conversationId || null,
          createdAt: c.createdAt.toISOString(),
          lastActivity: new Date(at).toISOString(),
          consent,
          latest: m ? messageJson(m, client.address) : null,
          group: c instanceof Group ? groupJson(c, client.address) : null,
        });
        continue;
      }
      const group = c instanceof Group;
      const tags = [
        !group && c.context?.conversationId ? `[${c.context.conversationId}]` : "",
        consent === "denied" ? "(blocked)" : consent === "unknown" ? "(request)" : "",
      ].filter(Boolean);
      const mine = m && m.senderAddress.toLowerCase() === client.address.toLowerCase();
      const who = mine ? "me: " : m && group ? `${shortAddress(m.senderAddress)}: ` : "";
      const preview = m ? `${who}${describe(m)}` : "(no messages)";
      const name = c instanceof Group ? groupLabel(c) : c.peerAddress;
      out(`${name}  ${formatTime(new Date(at))}  ${[...tags, preview].join(" ")}`);
    }
    if (!flags.json && rows.length === 0)
      note("no conversations yet: start one with `xmtp send <address> <text>`");
  });
}

/** The last `limit` messages with `peer` across their conversations, oldest first. */
export async function history(convos: Conversation[], limit: number): Promise<DecodedMessage[]> {
  const lists = await Promise.all(convos.map((c) => c.messages({ limit, direction: "descending" })));
  return lists
    .flat()
    .sort((a, b) => (a.sentNs < b.sentNs ? 1 : a.sentNs > b.sentNs ? -1 : 0))
    .slice(0, limit)
    .reverse();
}

/** `xmtp messages <address | group>`: the latest messages with a peer or in a group, oldest first. */
export async function messages(target: string, flags: ClientFlags & OutputFlags & { limit: number }) {
  const isPeer = isAddressArgument(target);
  if (isPeer) peerAddress(target);
  await withClient(flags, async (client) => {
    let convos: Conversation[];
    if (isPeer) {
      const peer = peerAddress(target, client);
      convos = await conversationsWith(client, peer);
      if (convos.length === 0) {
        note(`no conversation with ${peer} yet`);
        return;
      }
    } else convos = [await findGroup(client, target)];
    for (const m of await history(convos, flags.limit)) {
      if (flags.json) printJson(messageJson(m, client.address));
      else if (isShown(m)) out(formatLine(m, client.address));
    }
  });
}

/** Largest message read from stdin. */
export const MAX_STDIN_BYTES = 1024 * 1024;

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) note("type the message, then Ctrl-D on an empty line");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_BYTES)
      throw new UserError(`the message on stdin is longer than ${MAX_STDIN_BYTES} bytes`);
    chunks.push(chunk);
  }
  // `echo text | xmtp send …` ends with one newline that is not part of the message.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/**
 * `xmtp send <address> [text…]`: starts or reuses the conversation and sends one text (from stdin
 * when no text is given). Prints JSON with `--json`, or when the key came from `--key` /
 * `XMTP_WALLET_KEY` (what scripts of the first version of this command read).
 */
export async function send(
  address: string,
  words: string[],
  flags: ClientFlags & OutputFlags & { conversationId?: string },
): Promise<void> {
  const isPeer = isAddressArgument(address);
  if (isPeer) peerAddress(address);
  const text = words.length > 0 ? words.join(" ") : await readStdin();
  if (text.length === 0) throw new UserError("nothing to send: give the text as arguments or on stdin");
  const json = flags.json || (flags.key ?? process.env.XMTP_WALLET_KEY) !== undefined;
  if (!isPeer) return sendToGroup(address, text, json, flags);
  await withClient(flags, async (client) => {
    const peer = peerAddress(address, client);
    await requireReachable(client, peer);
    const convo = await client.conversations.newConversation(
      peer,
      flags.conversationId ? { conversationId: flags.conversationId } : {},
    );
    const sent = await convo.send(text);
    await allowIfUnknown(client, peer).catch((err: unknown) =>
      note(
        `warning: sent, but could not accept ${peer}'s request: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
    if (json) printJson({ id: sent.id, topic: convo.topic, from: client.address, to: convo.peerAddress });
    else out(`sent to ${convo.peerAddress}`);
  });
}

/** `xmtp send <group> …`: one text to every member; answering a group allows its creator. */
async function sendToGroup(ref: string, text: string, json: boolean, flags: ClientFlags): Promise<void> {
  await withClient(flags, async (client) => {
    const group = await findGroup(client, ref);
    if (!group.isActive) throw new UserError("you are no longer a member of this group");
    const sent = await group.send(text);
    if (group.creator !== client.address) await allowIfUnknown(client, group.creator).catch(() => undefined);
    if (json)
      printJson({ id: sent.id, topic: group.topic, from: client.address, to: null, groupId: group.id });
    else out(`sent to ${groupLabel(group)}`);
  });
}

/** `xmtp allow` / `xmtp block`: one action on the consent list, read by all of this account's apps. */
export async function setConsent(
  addresses: string[],
  state: "allowed" | "denied",
  flags: ClientFlags & OutputFlags,
): Promise<void> {
  const peers = addresses.map((a) => peerAddress(a));
  await withClient(flags, async (client) => {
    if (state === "allowed") await client.consent.allow(peers);
    else await client.consent.deny(peers);
  });
  for (const peer of peers) {
    if (flags.json) printJson({ address: peer, consent: state });
    else out(`${state === "allowed" ? "allowed" : "blocked"} ${peer}`);
  }
}

/** `xmtp listen`: every message to or from this identity as a JSON line, until Ctrl-C. */
export async function listen(flags: ClientFlags): Promise<void> {
  const client = await openClient(flags);
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => stop.abort());
  const stream = await client.conversations.streamAllMessages({ signal: stop.signal });
  note(`listening as ${client.address}`);
  for await (const m of stream) {
    printJson({
      id: m.id,
      topic: m.contentTopic,
      sender: m.senderAddress,
      sent: m.sent.toISOString(),
      content: typeof m.content === "string" ? m.content : (m.contentFallback ?? null),
    });
  }
  await client.close();
}
