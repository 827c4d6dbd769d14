/**
 * Starting a client for a command: from the identity `xmtp login` saved (no signature, the XMTP
 * keys are reused; known conversations come back from an encrypted snapshot in the cache
 * directory), or from a raw wallet key (`--key` / `XMTP_WALLET_KEY`, for scripts).
 */
import { mkdirSync } from "node:fs";
import { Client, fileConversationStore, fromBase64, fromPrivateKey, Group } from "@xmtp-ts/client";
import { isAddress, toChecksumAddress } from "@xmtp-ts/protocol";
import { cacheDir, loadIdentity, resolveApiUrl, UserError } from "./config.js";
import { withProgress } from "./progress.js";

export interface ClientFlags {
  api?: string;
  key?: string;
}

/** Why a client could not start, in words that say what to do. */
export function startError(apiUrl: string, err: unknown): Error {
  if (err instanceof UserError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const causes: string[] = [];
  for (let e: unknown = err; e instanceof Error && causes.length < 5; e = e.cause)
    causes.push(`${(e as NodeJS.ErrnoException).code ?? ""} ${e.message}`);
  const unreachable = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ETIMEDOUT|fetch failed/.test(
    causes.join(" "),
  );
  return new UserError(
    unreachable
      ? `cannot start a client on ${apiUrl}: the node is unreachable (${text}); is it running? Choose another with --api or XMTP_API_URL`
      : `cannot start a client on ${apiUrl}: ${text}`,
  );
}

/** A started client for the command's flags; the caller closes it. */
export async function openClient(flags: ClientFlags): Promise<Client> {
  const key = flags.key ?? process.env.XMTP_WALLET_KEY;
  const saved = key === undefined ? loadIdentity() : undefined;
  const apiUrl = resolveApiUrl(flags.api, saved);
  if (key === undefined && saved === undefined)
    throw new UserError("no identity yet: run `xmtp login` first (or pass a wallet key with --key)");
  try {
    if (key !== undefined) return await Client.create(fromPrivateKey(key), { apiUrl });
    // The snapshots are encrypted, but who talks to whom is nobody else's business either.
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    return await Client.create(null, {
      apiUrl,
      privateKeyOverride: fromBase64(saved!.xmtpKeys),
      conversationStore: fileConversationStore(cacheDir()),
    });
  } catch (err) {
    throw startError(apiUrl, err);
  }
}

/** Checks and normalises a peer address given on the command line. */
export function peerAddress(text: string, client?: Client): string {
  if (!isAddress(text)) throw new UserError(`not an Ethereum address: ${JSON.stringify(text)}`);
  const peer = toChecksumAddress(text);
  if (client && peer.toLowerCase() === client.address.toLowerCase())
    throw new UserError("that is your own address: XMTP V2 conversations are between two addresses");
  return peer;
}

/** Fails with a clear message when the peer has no XMTP identity on this network. */
export async function requireReachable(client: Client, peer: string): Promise<void> {
  if (!(await client.canMessage(peer)))
    throw new UserError(`${peer} has no XMTP identity on this network yet`);
}

/**
 * Writing to a peer accepts their request: an address still unknown to the consent list on the
 * network is allowed (as the web app does when one answers). A block stays until `xmtp allow`.
 */
export async function allowIfUnknown(client: Client, peer: string): Promise<void> {
  await client.consent.load();
  if (client.consent.consentState(peer) === "unknown") await client.consent.allow([peer]);
}

/** Every conversation, with progress while a (first) sync is slow. */
export const listConversations = (client: Client) =>
  withProgress(
    "syncing conversations",
    () => client.conversations.list(),
    (l) => `${l.length} conversations`,
  );

/** Every conversation of two with `peer` (usually one; more when apps used conversation ids). */
export async function conversationsWith(client: Client, peer: string) {
  const all = await listConversations(client);
  return all.filter((c) => !(c instanceof Group) && c.peerAddress.toLowerCase() === peer.toLowerCase());
}
