import { toChecksumAddress } from "@xmtp-ts/protocol";
import { describe, expect, test } from "vitest";
import type { EnvelopeInit } from "../api/types.js";
import { defaultCodecRegistry, encodeContent } from "../content/index.js";
import type { ConversationsContext } from "../conversations/conversation.js";
import { Conversations } from "../conversations/conversations.js";
import { randomKeys } from "../conversations/test-fixtures.js";
import { MemoryTransport } from "../conversations/test-transport.js";
import { encodeMessageV2, MessageDecodeError, v2Envelope } from "../conversations/v2.js";
import { XmtpError } from "../errors.js";
import type { OwnKeys } from "../keys/own-keys.js";
import { Group, type GroupError } from "./group.js";
import { MAX_GROUP_MEMBERS } from "./metadata.js";

function network() {
  const registered = new Map<string, OwnKeys>();
  /** When set, the next publish with invitations in it fails (a round that breaks half-way). */
  const faults = { failNextInvitations: false };
  const net = new (class extends MemoryTransport {
    override async publish(envs: EnvelopeInit[]): Promise<void> {
      if (faults.failNextInvitations && envs.some((e) => e.contentTopic?.startsWith("/xmtp/0/invite-"))) {
        faults.failNextInvitations = false;
        throw new Error("network down");
      }
      return super.publish(envs);
    }
  })();
  const transport = net;
  const client = (keys: OwnKeys) => {
    registered.set(keys.address, keys);
    const ctx: ConversationsContext = {
      keys,
      transport,
      codecs: defaultCodecRegistry(),
      introduced: new Set(),
      verifiedSenders: new Map(),
      getContact: async (a) => registered.get(a)?.signedBundle,
    };
    return new Conversations(ctx);
  };
  return { net, client, faults };
}

async function groupOf(c: Conversations): Promise<Group> {
  const g = (await c.list()).find((x): x is Group => x instanceof Group);
  if (!g) throw new Error("no group listed");
  return g;
}

const lastEnvelope = (net: MemoryTransport, topic: string) => net.rows.get(topic)!.at(-1)!.env;

describe("Group", () => {
  test("a message from a member added since this client last read the list is accepted after one re-read", async () => {
    const { net, client } = network();
    const [ka, kb, kc, kd] = [randomKeys(), randomKeys(), randomKeys(), randomKeys()];
    const [a, b, , d] = [client(ka), client(kb), client(kc), client(kd)];
    const ga = await a.newGroup([kb.address, kc.address], { name: "unit" });
    const gb = await groupOf(b);
    await ga.addMembers([kd.address]);
    const gd = await groupOf(d);
    expect(gd.members).toContain(kd.address);
    await gd.send("hello from D");
    expect(gb.members).not.toContain(kd.address); // B has not read the addition yet
    const m = await gb.decodeMessage(lastEnvelope(net, ga.topic));
    expect([m.content, m.senderAddress]).toEqual(["hello from D", kd.address]);
    expect(gb.members).toContain(kd.address);
    expect(b.groups.rejections).toEqual([]);
  });

  test("a holder of the key who is not a member is rejected and reported once", async () => {
    const { net, client } = network();
    const [ka, kb, outsider] = [randomKeys(), randomKeys(), randomKeys()];
    const [a, b] = [client(ka), client(kb)];
    const ga = await a.newGroup([kb.address]);
    const gb = await groupOf(b);
    const createdNs = BigInt(Date.now()) * 1_000_000n;
    const payload = (await encodeContent("leaked key", {}, defaultCodecRegistry())).payload;
    const input = { own: outsider, topic: ga.topic, keyMaterial: ga.knownEpochs[0]!.keyMaterial, payload };
    const msg = await encodeMessageV2({ ...input, createdNs });
    await net.publish([v2Envelope(ga.topic, createdNs, msg.bytes)]);
    const env = lastEnvelope(net, ga.topic);
    const err = await gb.decodeMessage(env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageDecodeError);
    expect((err as MessageDecodeError).reason).toBe("sender-not-participant");
    expect(b.groups.rejections.map((r) => [r.reason, r.from])).toEqual([
      ["sender-not-member", outsider.address],
    ]);
    const errors: MessageDecodeError[] = [];
    expect(await gb.messages({ onError: (e) => errors.push(e) })).toEqual([]);
    expect(errors.map((e) => e.reason)).toEqual(["sender-not-participant"]);
    expect(b.groups.rejections).toHaveLength(1); // read again, reported once
    // The stranger's next message is rejected without reading the list again.
    const later = createdNs + 1_000_000n;
    const again = await encodeMessageV2({ ...input, createdNs: later });
    await net.publish([v2Envelope(ga.topic, later, again.bytes)]);
    const queries = net.queries.length;
    await expect(gb.decodeMessage(lastEnvelope(net, ga.topic))).rejects.toBeInstanceOf(MessageDecodeError);
    expect(net.queries.length).toBe(queries);
  });

  test("membership changes are the creator's, within the cap, and keep someone besides the creator", async () => {
    const { client } = network();
    const [ka, kb, kc] = [randomKeys(), randomKeys(), randomKeys()];
    const [a, b] = [client(ka), client(kb)];
    client(kc);
    const reason = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: GroupError) => e.reason,
      );
    const stranger = toChecksumAddress(`0x${"12".repeat(20)}`);
    const many = Array.from({ length: MAX_GROUP_MEMBERS }, (_, i) =>
      toChecksumAddress(`0x${(i + 1).toString(16).padStart(40, "a")}`),
    );
    expect(await reason(a.newGroup([]))).toBe("too-few-members");
    const err = await a.newGroup([]).catch((e: unknown) => e);
    expect(err instanceof XmtpError && err.is("group-refused") && err.details.reason).toBe("too-few-members");
    expect(await reason(a.newGroup([ka.address]))).toBe("too-few-members");
    expect(await reason(a.newGroup(["not an address"]))).toBe("invalid-address");
    expect(await reason(a.newGroup(many))).toBe("too-many-members");
    expect(await reason(a.newGroup([kb.address, stranger]))).toBe("not-on-network");
    expect(await reason(a.newGroup([kb.address], { name: "n".repeat(101) }))).toBe("invalid-options");
    const ga = await a.newGroup([kb.address, kc.address]);
    const gb = await groupOf(b);
    expect(await reason(gb.addMembers([stranger]))).toBe("not-creator");
    expect(await reason(gb.removeMembers([kc.address]))).toBe("not-creator");
    expect(await reason(ga.removeMembers([ka.address]))).toBe("invalid-address");
    expect(await reason(ga.removeMembers([kb.address, kc.address]))).toBe("too-few-members");
    expect(await reason(ga.addMembers(many.slice(0, MAX_GROUP_MEMBERS - 2)))).toBe("too-many-members");
    expect(ga.members).toEqual([ka.address, kb.address, kc.address].sort());
    expect(ga.epoch).toBe(0);
  });

  test("a round that failed half-way is finished by naming the members again", async () => {
    const { client, faults } = network();
    const [ka, kb, kc, kd] = [randomKeys(), randomKeys(), randomKeys(), randomKeys()];
    const [a, b, c, d] = [client(ka), client(kb), client(kc), client(kd)];
    const ga = await a.newGroup([kb.address, kc.address]);
    faults.failNextInvitations = true;
    await expect(ga.addMembers([kd.address])).rejects.toThrow("network down");
    expect((await d.list()).some((x) => x instanceof Group)).toBe(false);
    await ga.addMembers([kd.address]);
    expect((await groupOf(d)).members).toContain(kd.address);
    // A removal whose new-epoch round failed: the creator holds the new epoch and re-sends it.
    faults.failNextInvitations = true;
    await expect(ga.removeMembers([kc.address])).rejects.toThrow("network down");
    expect(ga.epoch).toBe(1);
    await ga.addMembers([kb.address, kd.address]);
    expect((await groupOf(b)).epoch).toBe(1);
    const gc = await groupOf(c);
    await gc.sync();
    expect([gc.epoch, gc.isActive]).toEqual([0, false]);
  });

  test("onEpoch: a known group that learns its next epoch is reported, by a stream as well as a listing", async () => {
    const { client } = network();
    const [ka, kb, kc] = [randomKeys(), randomKeys(), randomKeys()];
    const [a, b] = [client(ka), client(kb)];
    client(kc);
    const seenA: number[] = [];
    const seenB: number[] = [];
    a.groups.onEpoch((g) => seenA.push(g.epoch));
    let reported: (epoch: number) => void = () => {};
    const nextAtB = new Promise<number>((r) => {
      reported = r;
    });
    const off = b.groups.onEpoch((g) => {
      seenB.push(g.epoch);
      reported(g.epoch);
    });
    const stream = await b.stream();
    const ga = await a.newGroup([kb.address, kc.address]);
    expect(seenA).toEqual([]); // a new group is not an epoch change
    const gb = (await stream.next()).value as Group;
    expect(seenB).toEqual([]);
    await ga.removeMembers([kc.address]);
    expect(seenA).toEqual([1]);
    // The next epoch's invitation reaches b's stream, which yields no group twice: the event says it.
    expect(await nextAtB).toBe(1);
    expect(gb.epoch).toBe(1);
    await stream.return?.();
    off();
    await ga.addMembers([kb.address]); // re-sends the current epoch: no new epoch, no event
    await b.list();
    expect(seenB).toEqual([1]);
  });

  test("a message sent while a removal is under way waits for it and goes to the next epoch", async () => {
    const { client } = network();
    const [ka, kb, kc] = [randomKeys(), randomKeys(), randomKeys()];
    const [a, b] = [client(ka), client(kb)];
    client(kc);
    const ga = await a.newGroup([kb.address, kc.address]);
    const first = ga.topic;
    const removing = ga.removeMembers([kc.address]);
    const sent = await ga.send("during the removal");
    await removing;
    expect(ga.epoch).toBe(1);
    expect(sent.contentTopic).toBe(ga.topic);
    expect(sent.contentTopic).not.toBe(first);
    const gb = await groupOf(b);
    const rejected: string[] = [];
    const texts = (await gb.messages({ onError: (e) => rejected.push(e.reason) })).map((m) => m.content);
    expect(texts).toContain("during the removal");
    expect(rejected).toEqual([]);
  });

  test("the creator's own invitation copy, streamed back while the round is published, finds the same group", async () => {
    const { client } = network();
    const [ka, kb] = [randomKeys(), randomKeys()];
    const a = client(ka);
    client(kb);
    const stream = await a.stream();
    const streamed = stream.next();
    const g = await a.newGroup([kb.address]);
    expect((await streamed).value).toBe(g);
    expect((await a.list()).filter((x) => x instanceof Group)).toEqual([g]);
    await stream.return?.();
  });
});
