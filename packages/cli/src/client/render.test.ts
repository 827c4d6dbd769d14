import {
  ContentTypeAttachment,
  ContentTypeGroupMembership,
  ContentTypeId,
  ContentTypeReaction,
  ContentTypeReadReceipt,
  ContentTypeReply,
  ContentTypeText,
  type DecodedMessage,
} from "@xmtp-ts/client";
import { describe, expect, test } from "vitest";
import { describe as describeContent, formatLine, isShown, messageJson, shortAddress } from "./render.js";

const ME = "0x1111111111111111111111111111111111111111";
const PEER = "0x2222222222222222222222222222222222222222";

function message(
  contentType: ContentTypeId | undefined,
  content: unknown,
  extra: Partial<DecodedMessage> = {},
) {
  return {
    id: "id1",
    senderAddress: PEER,
    sent: new Date(2026, 11, 4, 9, 5),
    sentNs: 1n,
    contentTopic: "/xmtp/0/m-x/proto",
    contentType,
    content,
    contentFallback: undefined,
    ...extra,
  } as DecodedMessage;
}

describe("messages in a terminal", () => {
  test("group membership changes read as a line about who joined or left", () => {
    const change = { groupId: "ab", epoch: 0, revision: 1, creator: ME, members: [ME, PEER] };
    expect(
      describeContent(message(ContentTypeGroupMembership, { ...change, action: "add", changed: [PEER] })),
    ).toBe(`* added ${shortAddress(PEER)} to the group`);
    expect(
      describeContent(
        message(ContentTypeGroupMembership, { ...change, action: "close", changed: [PEER], nextEpoch: 1 }),
      ),
    ).toBe(`* removed ${shortAddress(PEER)}; the group goes on in a new epoch without them`);
  });

  test("a line: local time, sender (me for one's own), text", () => {
    expect(formatLine(message(ContentTypeText, "hi"), ME)).toBe(
      `2026-12-04 09:05  ${shortAddress(PEER)}  hi`,
    );
    expect(formatLine(message(ContentTypeText, "yo", { senderAddress: ME }), ME)).toBe(
      "2026-12-04 09:05  me           yo",
    );
  });

  test("other content types in words; unknown ones by their fallback", () => {
    expect(describeContent(message(ContentTypeReaction, { action: "added", content: "👍" }))).toBe(
      "reacted 👍",
    );
    expect(describeContent(message(ContentTypeReaction, { action: "removed", content: "👍" }))).toBe(
      "removed the reaction 👍",
    );
    expect(describeContent(message(ContentTypeReply, { content: "sure" }))).toBe("↪ sure");
    expect(
      describeContent(
        message(ContentTypeAttachment, { filename: "a.png", mimeType: "image/png", data: new Uint8Array(3) }),
      ),
    ).toBe("[file a.png, image/png, 3 bytes]");
    const custom = new ContentTypeId({
      authorityId: "acme.com",
      typeId: "poll",
      versionMajor: 1,
      versionMinor: 0,
    });
    expect(describeContent(message(custom, undefined, { contentFallback: "a poll" }))).toBe("a poll");
    expect(describeContent(message(custom, undefined))).toBe(
      "[acme.com/poll message this terminal cannot show]",
    );
    expect(isShown(message(ContentTypeReadReceipt, {}))).toBe(false);
    expect(isShown(message(ContentTypeText, "x"))).toBe(true);
  });

  test("a peer's control characters cannot drive the terminal", () => {
    expect(describeContent(message(ContentTypeText, "a\x1b[2Jb\x07c\nd\u009bx"))).toBe("a�[2Jb�c\nd�x");
  });

  test("JSON: full addresses, ISO time, bytes as base64", () => {
    const m = message(ContentTypeAttachment, {
      filename: "f",
      mimeType: "x/y",
      data: new Uint8Array([1, 2]),
    });
    expect(messageJson(m, ME)).toEqual({
      id: "id1",
      topic: "/xmtp/0/m-x/proto",
      sender: PEER,
      mine: false,
      sent: m.sent.toISOString(),
      contentType: "xmtp.org/attachment:1.0",
      content: { filename: "f", mimeType: "x/y", data: "AQI=" },
      fallback: null,
    });
  });
});
