import {
  ContentTypeAttachment,
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
  type ReactionIndex,
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
