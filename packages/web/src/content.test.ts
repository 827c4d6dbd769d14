import {
  ContentTypeAttachment,
  ContentTypeGroupMembership,
  type ContentTypeId,
  ContentTypeReaction,
  ContentTypeReply,
  ContentTypeText,
} from "@xmtp-ts/client";
import { describe, expect, test } from "vitest";
import {
  addressProblem,
  applyReaction,
  describe as describeMessage,
  membersProblem,
  type ReactionIndex,
  shortAddress,
  toggleReaction,
} from "./content.js";

const me = "0x1111111111111111111111111111111111111111";
const peer = "0x2222222222222222222222222222222222222222";

describe("describe", () => {
  test("text, reply, attachment, reaction, unknown with and without fallback", () => {
    const m = (contentType: ContentTypeId | undefined, content: unknown, contentFallback?: string) => ({
      contentType,
      content,
      contentFallback,
    });
    expect(describeMessage(m(ContentTypeText, "gm"))).toBe("gm");
    expect(
      describeMessage(m(ContentTypeReply, { reference: "x", contentType: ContentTypeText, content: "yes" })),
    ).toBe("yes");
    expect(
      describeMessage(
        m(ContentTypeAttachment, { filename: "a.png", mimeType: "image/png", data: new Uint8Array() }),
      ),
    ).toBe("📎 a.png");
    expect(
      describeMessage(
        m(ContentTypeReaction, { reference: "x", action: "added", content: "👍", schema: "unicode" }),
      ),
    ).toBe("Reacted 👍");
    const unknown = { authorityId: "example.com", typeId: "poll", versionMajor: 1, versionMinor: 0 };
    expect(describeMessage(m(unknown, undefined, "A poll: lunch?"))).toBe("A poll: lunch?");
    expect(describeMessage(m(unknown, undefined))).toMatch(/cannot show \(example\.com\/poll:1\.0\)/);
  });
});

describe("reactions", () => {
  test("the last action per sender and emoji wins; toggling removes one's own", () => {
    const index: ReactionIndex = new Map();
    applyReaction(index, me, { reference: "m1", action: "added", content: "👍", schema: "unicode" });
    applyReaction(index, peer, { reference: "m1", action: "added", content: "👍", schema: "unicode" });
    expect(index.get("m1")?.get("👍")?.size).toBe(2);
    const toggle = toggleReaction(index, me.toUpperCase().replace("0X", "0x"), "m1", "👍");
    expect(toggle.action).toBe("removed");
    applyReaction(index, me, toggle);
    expect([...(index.get("m1")?.get("👍") ?? [])]).toEqual([peer]);
    applyReaction(index, peer, { reference: "m1", action: "removed", content: "👍", schema: "unicode" });
    expect(index.has("m1")).toBe(false);
    expect(toggleReaction(index, me, "m1", "🎉").action).toBe("added");
  });
});

describe("addressProblem", () => {
  test("empty, malformed, own; a valid other address passes", () => {
    expect(addressProblem("  ", me)).toMatch(/Enter the Ethereum address/);
    expect(addressProblem("0x123", me)).toMatch(/not a valid Ethereum address/);
    expect(addressProblem(`${peer}0`, me)).toMatch(/not a valid/);
    expect(addressProblem(me.toUpperCase().replace("0X", "0x"), me)).toMatch(/your own address/);
    expect(addressProblem(` ${peer} `, me)).toBeUndefined();
  });
});

describe("groups", () => {
  const carol = "0x3333333333333333333333333333333333333333";
  test("a membership change reads as a line naming who was added or removed", () => {
    const change = { groupId: "ab", epoch: 0, revision: 1, creator: me, members: [me, peer] };
    const line = (content: unknown) =>
      describeMessage({ contentType: ContentTypeGroupMembership, content, contentFallback: undefined });
    expect(line({ ...change, action: "add", changed: [peer] })).toBe(
      `${shortAddress(me)} added ${shortAddress(peer)} to the group`,
    );
    expect(line({ ...change, action: "close", changed: [peer, carol], nextEpoch: 1 })).toBe(
      `${shortAddress(me)} removed ${shortAddress(peer)}, ${shortAddress(carol)}; the group goes on with a new key they do not have`,
    );
  });

  test("member lists: separators, duplicates and one's own address dropped; bad ones and too many refused", () => {
    expect(
      membersProblem(`${peer}, ${carol}\n${peer.toUpperCase().replace("0X", "0x")} ${me}`, me, 99),
    ).toEqual({
      addresses: [peer, carol],
    });
    expect(membersProblem("  ", me, 99).problem).toBe("Enter at least one member’s address.");
    expect(membersProblem(`${peer} 0x12 nope`, me, 99).problem).toBe(
      "Not a valid Ethereum address: 0x12, nope (0x followed by 40 hexadecimal characters).",
    );
    expect(membersProblem(me, me, 99).problem).toBe("That is your own address: add the addresses of others.");
    expect(membersProblem(`${peer} ${carol}`, me, 1).problem).toBe(
      "Too many members: 2 given, room for 1 more (a group has at most 100, you included).",
    );
  });
});
