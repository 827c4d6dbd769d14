/**
 * How messages look in a terminal (one line each: time, sender, text; your own marked `me`) and
 * as JSON lines for scripts. Content types other than text are described in words; unknown ones
 * show the fallback text their sender supplied.
 */
import type {
  Attachment,
  DecodedMessage,
  MembershipChange,
  Reaction,
  RemoteAttachment,
  Reply,
} from "@xmtp-ts/client";

const TEXT = "xmtp.org/text";
const READ_RECEIPT = "xmtp.org/readReceipt";

const typeKey = (m: DecodedMessage) =>
  m.contentType ? `${m.contentType.authorityId}/${m.contentType.typeId}` : "";

/** `0x1234…abcd`: enough to tell peers apart on screen; JSON output has full addresses. */
export const shortAddress = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

/** Local time, `YYYY-MM-DD HH:MM`. */
export function formatTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Read receipts are signals, not messages: the terminal views leave them out. */
export const isShown = (m: DecodedMessage) => typeKey(m) !== READ_RECEIPT;

/** Control characters from a peer must not drive the terminal (escape sequences, bells). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const printable = (s: string) => s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "�");

/** The message's content in words. */
export function describe(m: DecodedMessage): string {
  const c = m.content;
  switch (typeKey(m)) {
    case TEXT:
      if (typeof c === "string") return printable(c);
      break;
    case "xmtp.org/reaction": {
      const r = c as Reaction | undefined;
      if (r) return `${r.action === "removed" ? "removed the reaction" : "reacted"} ${printable(r.content)}`;
      break;
    }
    case "xmtp.org/reply": {
      const r = c as Reply | undefined;
      if (r) return `↪ ${typeof r.content === "string" ? printable(r.content) : "(a reply)"}`;
      break;
    }
    case "xmtp.org/attachment": {
      const a = c as Attachment | undefined;
      if (a) return `[file ${printable(a.filename)}, ${a.mimeType}, ${a.data.length} bytes]`;
      break;
    }
    case "xmtp-ts/groupMembership": {
      const g = c as MembershipChange | undefined;
      if (g) {
        const who = g.changed.map(shortAddress).join(", ");
        return g.action === "add"
          ? `* added ${who} to the group`
          : `* removed ${who}; the group goes on in a new epoch without them`;
      }
      break;
    }
    case "xmtp.org/remoteStaticAttachment": {
      const a = c as RemoteAttachment | undefined;
      if (a) return `[file ${printable(a.filename)}, ${a.contentLength} bytes, at ${printable(a.url)}]`;
      break;
    }
  }
  if (m.contentFallback) return printable(m.contentFallback);
  return `[${m.contentType ? `${typeKey(m)} message` : "a message"} this terminal cannot show]`;
}

/** One terminal line: `2026-12-04 15:30  me           hello`. */
export function formatLine(m: DecodedMessage, self: string): string {
  const who = m.senderAddress.toLowerCase() === self.toLowerCase() ? "me" : shortAddress(m.senderAddress);
  return `${formatTime(m.sent)}  ${who.padEnd(11)}  ${describe(m)}`;
}

/** Bytes become base64 in JSON output. */
function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}

/** The JSON of a message for scripts. */
export function messageJson(m: DecodedMessage, self: string) {
  return {
    id: m.id,
    topic: m.contentTopic,
    sender: m.senderAddress,
    mine: m.senderAddress.toLowerCase() === self.toLowerCase(),
    sent: m.sent.toISOString(),
    contentType: m.contentType
      ? `${typeKey(m)}:${m.contentType.versionMajor}.${m.contentType.versionMinor}`
      : null,
    content: m.content === undefined ? null : jsonSafe(m.content),
    fallback: m.contentFallback ?? null,
  };
}

/** Writes one JSON line to stdout. */
export const printJson = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
