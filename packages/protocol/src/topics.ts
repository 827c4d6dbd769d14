/** Topic names and the node's topic categories (protocol.md §1). */

export const TOPIC_PREFIX = "/xmtp/0/";

export type TopicCategory =
  | "test"
  | "invalid"
  | "contact"
  | "v1-intro"
  | "v1-conversation"
  | "v1-conversation-ephemeral"
  | "v2-invite"
  | "v2-group-invite"
  | "v2-conversation"
  | "v2-conversation-ephemeral"
  | "private"
  | "userpreferences";

const CATEGORIES: Record<string, TopicCategory> = {
  contact: "contact",
  intro: "v1-intro",
  dm: "v1-conversation",
  dmE: "v1-conversation-ephemeral",
  invite: "v2-invite",
  groupInvite: "v2-group-invite",
  m: "v2-conversation",
  mE: "v2-conversation-ephemeral",
  privatestore: "private",
  userpreferences: "userpreferences",
};

/** Classifies a topic exactly as the reference node does (`pkg/topic/topic.go`). */
export function topicCategory(topic: string): TopicCategory {
  if (topic.startsWith("test-")) return "test";
  if (!topic.startsWith(TOPIC_PREFIX)) return "invalid";
  const rest = topic.slice(TOPIC_PREFIX.length);
  const dash = rest.indexOf("-");
  if (dash < 0) return "invalid";
  return CATEGORIES[rest.slice(0, dash)] ?? "invalid";
}

/** Ephemeral topics (`mE-`, `dmE-`) are delivered to subscribers but never stored. */
export function isEphemeralTopic(topic: string): boolean {
  const c = topicCategory(topic);
  return c === "v2-conversation-ephemeral" || c === "v1-conversation-ephemeral";
}

/** Rows on topics outside `/xmtp/` may be deleted by a retention cleaner. */
export function shouldExpire(topic: string): boolean {
  return !topic.startsWith("/xmtp/");
}

const build = (name: string) => `${TOPIC_PREFIX}${name}/proto`;

/** Topic builders; addresses must already be EIP-55 checksummed. */
export const buildTopic = {
  contact: (address: string) => build(`contact-${address}`),
  privateStore: (address: string) => build(`privatestore-${address}/key_bundle`),
  invite: (address: string) => build(`invite-${address}`),
  intro: (address: string) => build(`intro-${address}`),
  dm: (a: string, b: string) => build(`dm-${[a, b].sort().join("-")}`),
  dmEphemeral: (a: string, b: string) => build(`dmE-${[a, b].sort().join("-")}`),
  conversationV2: (id: string) => build(`m-${id}`),
  userPreferences: (id: string) => build(`userpreferences-${id}`),
  /** The ephemeral twin of a V2 (`m-`) or V1 (`dm-`) conversation topic. */
  ephemeral: (topic: string) =>
    topic.startsWith(`${TOPIC_PREFIX}m-`)
      ? topic.replace(`${TOPIC_PREFIX}m`, `${TOPIC_PREFIX}mE`)
      : topic.replace(`${TOPIC_PREFIX}dm-`, `${TOPIC_PREFIX}dmE-`),
};

/** xmtp-js `isValidTopic`: the part between the first `0/` and the last `/proto` is printable ASCII. */
export function isValidTopic(topic: string): boolean {
  const start = topic.indexOf("0/");
  const end = topic.lastIndexOf("/proto");
  if (start < 0 || end < 0 || end <= start + 2) return false;
  return /^[\x21-\x7F]+$/.test(topic.slice(start + 2, end));
}

/**
 * The owner a restricted topic (`contact-<addr>`, `privatestore-<addr>`) belongs to, or undefined
 * when anyone authenticated may publish to it (protocol.md §4.4).
 */
export function restrictedTopicOwner(topic: string): string | undefined {
  if (!topic.startsWith(TOPIC_PREFIX)) return undefined;
  const segment = topic.split("/")[3] ?? "";
  const parts = segment.split("-");
  if (parts[0] === "privatestore" || parts[0] === "contact") return parts[1] ?? "";
  return undefined;
}
