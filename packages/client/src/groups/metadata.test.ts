import { toChecksumAddress } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  ContentTypeGroupMembership,
  GroupMembershipCodec,
  MAX_MEMBERSHIP_CONTENT_BYTES,
} from "./membership-content.js";
import {
  GROUP_KEYS,
  type GroupInfo,
  groupContext,
  MAX_GROUP_DESCRIPTION_CHARS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_CHARS,
  normalizeMembers,
  parseGroupContext,
} from "./metadata.js";

// Letters in every address, so EIP-55 and lowercase differ.
const addr = (i: number) => toChecksumAddress(`0x${i.toString(16).padStart(40, "abcdef")}`);
const members = (n: number) => normalizeMembers(Array.from({ length: n }, (_, i) => addr(i + 1)));
const base = (): GroupInfo => ({
  groupId: "0123456789abcdef".repeat(2),
  creator: addr(1),
  members: members(3),
  epoch: 0,
  revision: 0,
});

describe("group metadata", () => {
  test("round-trips through the invitation context (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_GROUP_MEMBERS }),
        fc.nat(1000),
        fc.nat(1000),
        fc.option(fc.string({ maxLength: MAX_GROUP_NAME_CHARS })),
        fc.option(fc.string({ maxLength: MAX_GROUP_DESCRIPTION_CHARS })),
        (n, epoch, revision, name, description) => {
          const g: GroupInfo = {
            ...base(),
            members: members(n),
            epoch,
            revision,
            ...(epoch > 0 ? { previous: `/xmtp/0/m-${"ab".repeat(32)}/proto` } : {}),
            ...(name !== null ? { name } : {}),
            ...(description !== null ? { description } : {}),
          };
          expect(parseGroupContext(groupContext(g))).toEqual(g);
        },
      ),
    );
  });

  const broken = (edit: (m: Record<string, string>) => void, conversationId?: string) => {
    const ctx = groupContext(base());
    edit(ctx.metadata);
    return () =>
      parseGroupContext({ conversationId: conversationId ?? ctx.conversationId, metadata: ctx.metadata });
  };

  test.each([
    [
      "more members than the cap",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.members] = members(MAX_GROUP_MEMBERS + 1).join(",");
      },
      /limit|longer than/,
    ],
    [
      "a member list text over its bound",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.members] = `${addr(1)},${"x".repeat(MAX_GROUP_MEMBERS * 43)}`;
      },
      /longer than/,
    ],
    [
      "an unsorted list",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.members] = members(3).reverse().join(",");
      },
      /sorted/,
    ],
    [
      "a duplicate member",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.members] = [addr(1), addr(1)].join(",");
      },
      /sorted/,
    ],
    [
      "a list without the creator",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.members] = [addr(2), addr(3)].sort().join(",");
      },
      /creator/,
    ],
    [
      "a lowercase address",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.members] = members(3)
          .map((a) => a.toLowerCase())
          .join(",");
      },
      /sorted/,
    ],
    [
      "a name over the limit",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.name] = "n".repeat(MAX_GROUP_NAME_CHARS + 1);
      },
      /name/,
    ],
    [
      "a description over the limit",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.description] = "d".repeat(MAX_GROUP_DESCRIPTION_CHARS + 1);
      },
      /description/,
    ],
    [
      "a bad group id",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.id] = "XYZ";
      },
      /group id/,
    ],
    [
      "an epoch that is not decimal",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.epoch] = "1e3";
      },
      /decimal/,
    ],
    [
      "an epoch over the bound",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.epoch] = "1000000000";
      },
      /decimal/,
    ],
    [
      "epoch > 0 without a previous topic",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.epoch] = "1";
      },
      /previous/,
    ],
    [
      "a missing entry",
      (m: Record<string, string>) => {
        delete m[GROUP_KEYS.creator];
      },
      /missing/,
    ],
    [
      "an unknown format",
      (m: Record<string, string>) => {
        m[GROUP_KEYS.version] = "2";
      },
      /format/,
    ],
  ])("rejects %s", (_, edit, message) => {
    expect(broken(edit)).toThrow(message);
  });

  test("rejects a conversation id that does not name the group", () => {
    expect(broken(() => undefined, "xmtp-ts/group/other")).toThrow(/conversation id/);
  });
});

describe("membership content", () => {
  const codec = new GroupMembershipCodec();
  const change = {
    groupId: base().groupId,
    epoch: 0,
    revision: 1,
    action: "add" as const,
    creator: addr(1),
    members: members(4),
    changed: [addr(4)],
  };
  const raw = (o: unknown) => ({
    type: ContentTypeGroupMembership,
    parameters: {},
    content: new TextEncoder().encode(JSON.stringify(o)),
  });

  test("round-trips and has a fallback for other SDKs", () => {
    expect(codec.decode(codec.encode(change))).toEqual(change);
    expect(codec.fallback(change)).toMatch(/^0x\w{4}…\w{4} added 0x\w{4}…\w{4} to the group$/);
    const close = { ...change, action: "close" as const, members: members(3), nextEpoch: 1 };
    expect(codec.decode(codec.encode(close))).toEqual(close);
    expect(codec.fallback(close)).toMatch(/continues in a new conversation/);
  });

  test.each([
    [
      "content over the limit",
      { ...raw(change), content: new Uint8Array(MAX_MEMBERSHIP_CONTENT_BYTES + 1) },
      /limit/,
    ],
    ["more members than the cap", raw({ ...change, members: members(MAX_GROUP_MEMBERS + 1) }), /at most/],
    ["an unknown action", raw({ ...change, action: "promote" }), /unknown action/],
    ["a negative revision", raw({ ...change, revision: -1 }), /revision/],
    [
      "a list without the creator",
      raw({ ...change, members: members(4).filter((a) => a !== addr(1)) }),
      /creator/,
    ],
    ["a close without its next epoch", raw({ ...change, action: "close" }), /nextEpoch/],
    ["not JSON", { ...raw(change), content: new Uint8Array([0xff, 0x00]) }, /JSON/],
  ])("rejects %s", (_, encoded, message) => {
    expect(() => codec.decode(encoded)).toThrow(message);
  });
});
