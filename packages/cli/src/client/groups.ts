/**
 * Groups from a terminal (docs/groups.md): `xmtp group create | members | add | remove`, and how
 * the other commands find a group named on their command line. A group is named by its short id
 * (the first 8 hex digits of its id, which `xmtp conversations` prints), any longer prefix of the
 * id, the topic of one of its epochs, or its exact name when no other group has it.
 */
import { type Client, Group, GroupError, MAX_GROUP_MEMBERS } from "@xmtp-ts/client";
import { isAddress, toChecksumAddress } from "@xmtp-ts/protocol";
import type { OutputFlags } from "./actions.js";
import { UserError } from "./config.js";
import { withProgress } from "./progress.js";
import { printJson } from "./render.js";
import { type ClientFlags, listConversations, openClient } from "./session.js";

const out = (s: string) => process.stdout.write(`${s}\n`);

/** The id `xmtp conversations` prints for a group: 8 hex digits, enough to tell groups apart. */
export const shortGroupId = (g: Group) => g.id.slice(0, 8);

/** Shortest id prefix accepted (fewer digits would match too many groups to be a name). */
const MIN_PREFIX = 4;

/** The groups among `all` that `ref` names (see the module comment). */
export function matchGroups(all: readonly Group[], ref: string): Group[] {
  const text = ref.trim();
  const lower = text.toLowerCase();
  if (text.startsWith("/xmtp/")) return all.filter((g) => g.knownEpochs.some((e) => e.topic === text));
  if (/^[0-9a-f]+$/.test(lower) && lower.length >= MIN_PREFIX) {
    const byId = all.filter((g) => g.id.startsWith(lower));
    if (byId.length > 0) return byId;
  }
  return all.filter((g) => g.name === text);
}

/** Whether a command-line argument is meant as an address (`0x…`; else it names a group). */
export const isAddressArgument = (text: string) => /^0x/i.test(text.trim());

/** The one group `ref` names, after listing; a clear error when none or several match. */
export async function findGroup(client: Client, ref: string): Promise<Group> {
  const groups = (await listConversations(client)).filter((c): c is Group => c instanceof Group);
  const found = matchGroups(groups, ref);
  if (found.length === 1) return found[0]!;
  if (found.length === 0)
    throw new UserError(
      `no group matches ${JSON.stringify(ref)}: give an address, or a group's id or name as \`xmtp conversations\` prints it`,
    );
  throw new UserError(
    `${JSON.stringify(ref)} matches ${found.length} groups (${found.map(shortGroupId).join(", ")}): give more of the id`,
  );
}

/** The JSON of a group for scripts. */
export function groupJson(g: Group, self: string) {
  return {
    groupId: g.id,
    shortId: shortGroupId(g),
    topic: g.topic,
    name: g.name ?? null,
    description: g.description ?? null,
    creator: g.creator,
    members: [...g.members],
    epoch: g.epoch,
    active: g.isActive,
    mine: g.creator.toLowerCase() === self.toLowerCase(),
  };
}

/** `ops (3fa2c1d0, 4 members)`: how a group is named on one line. */
export function groupLabel(g: Group): string {
  const name = g.name ? `${JSON.stringify(g.name)} ` : "";
  return `group ${name}(${shortGroupId(g)}, ${g.members.length} members${g.isActive ? "" : ", you were removed"})`;
}

function addressesOf(texts: string[]): string[] {
  const bad = texts.filter((t) => !isAddress(t));
  if (bad.length > 0)
    throw new UserError(`not an Ethereum address: ${bad.map((b) => JSON.stringify(b)).join(", ")}`);
  return texts.map((t) => toChecksumAddress(t));
}

/** A refused change in words (the SDK's reason kept in the message). */
function groupError(err: unknown): unknown {
  if (err instanceof GroupError) {
    const hint = err.reason === "too-many-members" ? ` (at most ${MAX_GROUP_MEMBERS}, you included)` : "";
    return new UserError(`cannot change the group: ${err.message}${hint}`);
  }
  return err;
}

async function withClient<T>(flags: ClientFlags, body: (c: Client) => Promise<T>): Promise<T> {
  const client = await openClient(flags);
  try {
    return await body(client);
  } catch (err) {
    throw groupError(err);
  } finally {
    await client.close();
  }
}

function printGroup(g: Group, self: string, flags: OutputFlags, verb: string): void {
  if (flags.json) printJson(groupJson(g, self));
  else out(`${verb} ${groupLabel(g)}`);
}

/** `xmtp group create <address…> [--name N] [--description D]`. */
export async function createGroup(
  addresses: string[],
  flags: ClientFlags & OutputFlags & { name?: string; description?: string },
): Promise<void> {
  const members = addressesOf(addresses);
  await withClient(flags, async (client) => {
    const g = await withProgress("creating the group", () =>
      client.conversations.newGroup(members, {
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.description !== undefined ? { description: flags.description } : {}),
      }),
    );
    printGroup(g, client.address, flags, "created");
  });
}

/** `xmtp group members <group>`: one line per member, the creator marked. */
export async function groupMembers(ref: string, flags: ClientFlags & OutputFlags): Promise<void> {
  await withClient(flags, async (client) => {
    const g = await findGroup(client, ref);
    await g.sync();
    for (const a of g.members) {
      const tags = [
        a === g.creator ? "creator" : "",
        a.toLowerCase() === client.address.toLowerCase() ? "you" : "",
      ];
      if (flags.json) printJson({ groupId: g.id, address: a, creator: a === g.creator });
      else out(`${a}${tags.some(Boolean) ? `  (${tags.filter(Boolean).join(", ")})` : ""}`);
    }
    if (!flags.json && !g.isActive) process.stderr.write("you are no longer a member of this group\n");
  });
}

/** `xmtp group add <group> <address…>` and `xmtp group remove <group> <address…>` (creator only). */
export async function changeMembers(
  action: "add" | "remove",
  ref: string,
  addresses: string[],
  flags: ClientFlags & OutputFlags,
): Promise<void> {
  const targets = addressesOf(addresses);
  await withClient(flags, async (client) => {
    const g = await findGroup(client, ref);
    if (g.creator.toLowerCase() !== client.address.toLowerCase())
      throw new UserError(`only the group's creator (${g.creator}) can ${action} members`);
    await withProgress(action === "add" ? "adding members" : "removing members (a new epoch)", () =>
      action === "add" ? g.addMembers(targets) : g.removeMembers(targets),
    );
    printGroup(g, client.address, flags, action === "add" ? "added to" : "removed from");
    if (!flags.json && action === "remove")
      process.stderr.write(
        "the group continues on a new topic with a new key; those removed keep only what was said before\n",
      );
  });
}
