import { bytesToHex } from "@noble/hashes/utils.js";
import { toChecksumAddress } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { MembershipChange } from "./membership-content.js";
import { normalizeMembers } from "./metadata.js";
import {
  type EpochState,
  type GroupInvitation,
  isSubset,
  judgeInvitation,
  judgeMembership,
  judgeMessage,
  type Verdict,
} from "./rules.js";

// A fixed pool of addresses keeps collisions (the interesting cases) likely.
const POOL = Array.from({ length: 8 }, (_, i) =>
  toChecksumAddress(
    `0x${String(i + 1)
      .repeat(40)
      .slice(0, 40)}`,
  ),
);
const CREATOR = POOL[0]!;
const KEY = new Uint8Array(32).fill(7);

const epoch0 = (members: readonly string[]): EpochState => ({
  groupId: "ab".repeat(16),
  creator: CREATOR,
  epoch: 0,
  topic: `/xmtp/0/m-${"cd".repeat(32)}/proto`,
  keyMaterial: KEY,
  members: normalizeMembers([CREATOR, ...members]),
  revision: 0,
  createdNs: 1n,
});

const subsetOfPool = fc.subarray(POOL.slice(1));
const change = fc.record({
  sender: fc.constantFrom(...POOL),
  action: fc.constantFrom("add" as const, "close" as const),
  revision: fc.nat(6),
  members: subsetOfPool,
  sentNs: fc.bigInt(1n, 100n),
  otherGroup: fc.boolean(),
});

function applyChange(
  s: EpochState,
  c: {
    sender: string;
    action: "add" | "close";
    revision: number;
    members: string[];
    sentNs: bigint;
    otherGroup: boolean;
  },
): Verdict<EpochState> {
  const members = normalizeMembers([CREATOR, ...c.members]);
  const msg: MembershipChange = {
    groupId: c.otherGroup ? "ef".repeat(16) : s.groupId,
    epoch: 0,
    revision: c.revision,
    action: c.action,
    members,
    changed: [],
    creator: CREATOR,
    ...(c.action === "close" ? { nextEpoch: 1 } : {}),
  };
  return judgeMembership(s, { change: msg, sender: c.sender, sentNs: c.sentNs });
}

describe("membership messages (property)", () => {
  test("members only grow within an epoch, only the creator changes them, and replays are duplicates", () => {
    fc.assert(
      fc.property(subsetOfPool, fc.array(change, { maxLength: 30 }), (initial, changes) => {
        let s = epoch0(initial);
        for (const c of changes) {
          const before = s;
          const v = applyChange(s, c);
          if (v.kind !== "accept") {
            if (c.sender !== CREATOR)
              expect(v).toMatchObject({ kind: "reject", reason: "membership-not-creator" });
            continue;
          }
          expect(c.sender).toBe(CREATOR);
          expect(c.otherGroup).toBe(false);
          s = v.value;
          expect(isSubset(before.members, s.members)).toBe(true);
          if (before.closedAtNs !== undefined) expect(s.closedAtNs).toBe(before.closedAtNs);
          if (s.nextMembers) expect(isSubset(s.nextMembers, s.members)).toBe(true);
          // The same message again changes nothing.
          expect(applyChange(s, c).kind).not.toBe("accept");
        }
      }),
    );
  });

  test("a chain of additions ends in the same state in any delivery order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.subarray(POOL.slice(1), { minLength: 1 }), { minLength: 1, maxLength: 6 }),
        fc.func(fc.integer()),
        (steps, rank) => {
          // Revision r adds steps[r-1]: each list contains the previous one.
          const lists: string[][] = [];
          let acc: string[] = [];
          for (const step of steps) {
            acc = normalizeMembers([...acc, ...step]);
            lists.push(acc);
          }
          const msgs = lists.map((members, i) => ({
            sender: CREATOR,
            action: "add" as const,
            revision: i + 1,
            members,
            sentNs: BigInt(i + 2),
            otherGroup: false,
          }));
          const shuffled = [...msgs].sort(
            (a, b) => rank(a.revision) - rank(b.revision) || a.revision - b.revision,
          );
          let s = epoch0([]);
          for (const m of shuffled) {
            const v = applyChange(s, m);
            expect(v.kind).not.toBe("reject");
            if (v.kind === "accept") s = v.value;
          }
          expect(s.members).toEqual(normalizeMembers([CREATOR, ...lists[lists.length - 1]!]));
          expect(s.revision).toBe(lists.length);
        },
      ),
    );
  });

  test("a message is accepted exactly when its sender is a member and it is not after the close", () => {
    fc.assert(
      fc.property(
        subsetOfPool,
        fc.constantFrom(...POOL),
        fc.bigInt(1n, 100n),
        fc.option(fc.bigInt(1n, 100n)),
        (members, sender, sentNs, closedAt) => {
          const s = { ...epoch0(members), ...(closedAt !== null ? { closedAtNs: closedAt } : {}) };
          const v = judgeMessage(s, sender, sentNs);
          const ok = s.members.includes(sender) && (closedAt === null || sentNs <= closedAt);
          expect(v.kind === "accept").toBe(ok);
        },
      ),
    );
  });
});

describe("invitations (property)", () => {
  const invitation = fc.record({
    inviter: fc.constantFrom(...POOL),
    recipient: fc.constantFrom(...POOL),
    members: subsetOfPool,
    revision: fc.nat(4),
    sameKey: fc.boolean(),
  });

  test("only the creator invites, only members are invited, and a topic never holds two lists of one revision", () => {
    fc.assert(
      fc.property(fc.array(invitation, { minLength: 1, maxLength: 20 }), (invs) => {
        let known: EpochState | undefined;
        for (const i of invs) {
          const members = normalizeMembers([CREATOR, ...i.members]);
          const inv: GroupInvitation = {
            info: { groupId: "ab".repeat(16), creator: CREATOR, members, epoch: 0, revision: i.revision },
            topic: `/xmtp/0/m-${"cd".repeat(32)}/proto`,
            keyMaterial: i.sameKey ? KEY : new Uint8Array(32).fill(9),
            createdNs: 1n,
            inviter: i.inviter,
            recipient: i.recipient,
          };
          const v = judgeInvitation(inv, {
            epochs: known ? [known] : [],
            atTopic: known,
            twoPartyTopic: false,
          });
          if (i.inviter !== CREATOR) expect(v).toMatchObject({ kind: "reject", reason: "not-creator" });
          else if (!members.includes(i.recipient))
            expect(v).toMatchObject({ kind: "reject", reason: "not-member" });
          if (known && v.kind !== "reject") {
            expect(bytesToHex(inv.keyMaterial)).toBe(bytesToHex(known.keyMaterial));
            if (i.revision === known.revision) expect(members).toEqual(known.members);
          }
          if (v.kind === "accept") {
            if (known) expect(isSubset(known.members, v.value.members)).toBe(true);
            known = v.value;
          }
        }
      }),
    );
  });

  test("a new topic for a known group needs a newer epoch from the same creator", () => {
    const e = epoch0([POOL[1]!]);
    const inv = (epoch: number, creator = CREATOR): GroupInvitation => ({
      info: {
        groupId: e.groupId,
        creator,
        members: normalizeMembers([creator, POOL[1]!]),
        epoch,
        revision: 0,
        ...(epoch > 0 ? { previous: e.topic } : {}),
      },
      topic: `/xmtp/0/m-${"ee".repeat(32)}/proto`,
      keyMaterial: KEY,
      createdNs: 2n,
      inviter: creator,
      recipient: POOL[1]!,
    });
    const known = { epochs: [e], atTopic: undefined, twoPartyTopic: false };
    expect(judgeInvitation(inv(1), known).kind).toBe("accept");
    expect(judgeInvitation(inv(0), known)).toMatchObject({ reason: "epoch-conflict" });
    expect(judgeInvitation(inv(1, POOL[2]!), known)).toMatchObject({ reason: "epoch-conflict" });
    expect(judgeInvitation(inv(1), { ...known, twoPartyTopic: true })).toMatchObject({
      reason: "topic-taken",
    });
  });
});
