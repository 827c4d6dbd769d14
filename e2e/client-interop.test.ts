/**
 * Our client and unmodified @xmtp/xmtp-js 12.1.0 talking through the real node process: V2 and
 * V1 in both directions, streams both ways, identities shared between the SDKs through the
 * network backup, consent proofs, content types, and forged envelopes skipped without breaking
 * streams; over each transport of our client (HTTP gateway, Connect, gRPC-Web, gRPC; xmtp-js
 * always on the gateway). Run `npx tsc -b packages/cli packages/client` first.
 */
import { ContentTypeText as JsContentTypeText } from "@xmtp/xmtp-js";
import Long from "long";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createConsentProof } from "../packages/client/src/advanced.js";
import {
  Client,
  ContentTypeReaction,
  type ConversationV2,
  type DecodedMessage,
  MessageDecodeError,
  memoryConversationStore,
} from "../packages/client/src/index.js";
import { Compression } from "../packages/proto/src/index.js";
import { Clients, nextOf, TRANSPORTS, wallet, within } from "./client-helpers.js";
import {
  type NodeProcess,
  openSubscriptions,
  spawnNode,
  subscribeCalls,
  untilSubscriptions,
} from "./node-process.js";

let node: NodeProcess;

beforeAll(async () => {
  node = await spawnNode();
});
afterAll(async () => {
  expect(await node.stop()).toBe(0);
});

describe.each(TRANSPORTS)("over $name", ({ name, options }) => {
  const network = () => options(node);
  const clients = new Clients(() => node.url, network);
  afterAll(async () => {
    await clients.closeAll();
  });

  describe("V2 with xmtp-js", () => {
    test("xmtp-js starts, we answer", async () => {
      const [jw, ow] = [wallet(), wallet()];
      const ours = await clients.ourClient(ow);
      const js = await clients.jsClient(jw);
      expect(await js.canMessage(ow.address)).toBe(true);
      expect(await ours.canMessage(jw.address)).toBe(true);
      const stranger = wallet().address;
      expect(await ours.canMessage([jw.address, stranger, ow.address.toLowerCase()])).toEqual([
        true,
        false,
        true,
      ]);
      expect(await Client.canMessage(jw.address, network())).toBe(true);
      expect(await Client.canMessage([stranger], network())).toEqual([false]);
      const jsConvo = await js.conversations.newConversation(ow.address);
      await jsConvo.send("hello from xmtp-js");
      const list = await ours.conversations.list();
      expect(list.map((c) => [c.conversationVersion, c.topic, c.peerAddress])).toEqual([
        ["v2", jsConvo.topic, jw.address],
      ]);
      const convo = list[0]!;
      const msgs = await convo.messages();
      expect(msgs.map((m) => [m.content, m.senderAddress, m.messageVersion])).toEqual([
        ["hello from xmtp-js", jw.address, "v2"],
      ]);
      expect(msgs[0]!.id).toBe((await jsConvo.messages())[0]!.id);
      // Answering with newConversation reuses xmtp-js's invitation.
      const again = await ours.conversations.newConversation(jw.address);
      expect(again.topic).toBe(jsConvo.topic);
      const sent = await again.send("hello from us");
      const jsMsgs = await jsConvo.messages();
      expect(jsMsgs.map((m) => [m.content, m.senderAddress])).toEqual([
        ["hello from xmtp-js", jw.address],
        ["hello from us", ow.address],
      ]);
      expect(jsMsgs[1]!.id).toBe(sent.id);
    });

    test("we start with a conversationId and metadata, xmtp-js answers", async () => {
      const [jw, ow] = [wallet(), wallet()];
      const js = await clients.jsClient(jw);
      const ours = await clients.ourClient(ow);
      const convo = await ours.conversations.newConversation(jw.address, {
        conversationId: "xmtp.org/ctx",
        metadata: { title: "t" },
      });
      expect(convo.conversationVersion).toBe("v2");
      await convo.send("first");
      const jsList = await js.conversations.list();
      expect(jsList.map((c) => c.topic)).toEqual([convo.topic]);
      const jsConvo = jsList[0]!;
      expect(jsConvo.peerAddress).toBe(ow.address);
      expect(jsConvo.context?.conversationId).toBe("xmtp.org/ctx");
      expect(jsConvo.context?.metadata).toEqual({ title: "t" });
      expect((await jsConvo.messages()).map((m) => m.content)).toEqual(["first"]);
      // xmtp-js derives the same deterministic topic for the same context.
      expect(
        (await js.conversations.newConversation(ow.address, { conversationId: "xmtp.org/ctx", metadata: {} }))
          .topic,
      ).toBe(convo.topic);
      await jsConvo.send("reply");
      expect((await convo.messages()).map((m) => [m.content, m.senderAddress])).toEqual([
        ["first", ow.address],
        ["reply", jw.address],
      ]);
    });
  });

  describe("V1 with xmtp-js", () => {
    test("we write to a legacy-only xmtp-js peer, and it answers", async () => {
      const [jw, ow] = [wallet(), wallet()];
      const js = await clients.jsClient(jw, { publishLegacyContact: true });
      const ours = await clients.ourClient(ow);
      const convo = await ours.conversations.newConversation(jw.address);
      expect(convo.conversationVersion).toBe("v1");
      await convo.send("v1 hello");
      await convo.send("v1 again");
      const jsList = await js.conversations.list();
      expect(jsList.map((c) => [c.conversationVersion, c.peerAddress])).toEqual([["v1", ow.address]]);
      const jsConvo = jsList[0]!;
      expect((await jsConvo.messages()).map((m) => m.content)).toEqual(["v1 hello", "v1 again"]);
      await jsConvo.send("v1 reply");
      expect((await convo.messages()).map((m) => [m.content, m.senderAddress, m.messageVersion])).toEqual([
        ["v1 hello", ow.address, "v1"],
        ["v1 again", ow.address, "v1"],
        ["v1 reply", jw.address, "v1"],
      ]);
    });

    test("xmtp-js writes to our legacy-only client; we discover it from the intro and answer", async () => {
      const [jw, ow] = [wallet(), wallet()];
      const ours = await clients.ourClient(ow, { publishLegacyContact: true });
      const js = await clients.jsClient(jw);
      const jsConvo = await js.conversations.newConversation(ow.address);
      expect(jsConvo.conversationVersion).toBe("v1");
      await jsConvo.send("from js over v1");
      const list = await ours.conversations.list();
      expect(list.map((c) => [c.conversationVersion, c.peerAddress])).toEqual([["v1", jw.address]]);
      const convo = list[0]!;
      expect((await convo.messages()).map((m) => m.content)).toEqual(["from js over v1"]);
      await convo.send("answer over v1");
      expect((await jsConvo.messages()).map((m) => [m.content, m.senderAddress])).toEqual([
        ["from js over v1", jw.address],
        ["answer over v1", ow.address],
      ]);
    });
  });

  describe("streams with xmtp-js", () => {
    test("our streams see xmtp-js; xmtp-js streams see us", async () => {
      const [jw, ow] = [wallet(), wallet()];
      const ours = await clients.ourClient(ow);
      const js = await clients.jsClient(jw);
      const convStream = await ours.conversations.stream();
      const all = await ours.conversations.streamAllMessages();
      // Our streams resolve once the node has answered; xmtp-js's once its request is sent.
      const before = await openSubscriptions(node);
      const jsConvStream = await js.conversations.stream();
      try {
        await untilSubscriptions(node, before + 1);
        const jsConvo = await js.conversations.newConversation(ow.address);
        const found = await nextOf(convStream, "new conversation");
        expect(found.topic).toBe(jsConvo.topic);
        const msgStream = await found.streamMessages();
        const beforeJs = await openSubscriptions(node);
        const jsMsgStream = await jsConvo.streamMessages();
        try {
          await untilSubscriptions(node, beforeJs + 1);
          await jsConvo.send("streamed to us");
          expect((await nextOf(msgStream, "message on our stream")).content).toBe("streamed to us");
          expect((await nextOf(all, "message on streamAllMessages")).content).toBe("streamed to us");
          await found.send("streamed to xmtp-js");
          const it = jsMsgStream[Symbol.asyncIterator]();
          const seen: string[] = [];
          while (!seen.includes("streamed to xmtp-js"))
            seen.push(String((await within(it.next(), 10_000, "xmtp-js stream")).value?.content));
          // xmtp-js's conversation stream sees a conversation we start.
          const other = wallet();
          const third = await clients.ourClient(other);
          const ourConvo = await third.conversations.newConversation(jw.address);
          // (xmtp-js first reports the conversation it started itself: its invite-self copy.)
          const jsIt = jsConvStream[Symbol.asyncIterator]();
          const jsTopics: string[] = [];
          while (!jsTopics.includes(ourConvo.topic)) {
            jsTopics.push(
              String((await within(jsIt.next(), 10_000, "xmtp-js conversation stream")).value?.topic),
            );
          }
          expect(jsTopics).toEqual([jsConvo.topic, ourConvo.topic]);
        } finally {
          await msgStream.return!();
          await jsMsgStream.return();
        }
      } finally {
        await convStream.return!();
        await all.return!();
        await jsConvStream.return();
      }
    });
  });

  describe("streamAllMessages as conversations start", () => {
    test("new conversations join the one subscription (Subscribe2 over gRPC, one re-opened stream otherwise)", async () => {
      const ow = wallet();
      const ours = await clients.ourClient(ow);
      const all = await ours.conversations.streamAllMessages();
      const opened = await subscribeCalls(node);
      try {
        for (const text of ["first peer", "second peer"]) {
          const js = await clients.jsClient(wallet());
          const convo = await js.conversations.newConversation(ow.address);
          await convo.send(text);
          expect((await nextOf(all, text, 20_000)).content).toBe(text);
        }
        // Over gRPC the open call took the new topics; otherwise one call replaced the other.
        expect((await subscribeCalls(node)) - opened).toBe(name === "grpc" ? 0 : 2);
        expect(await openSubscriptions(node)).toBeGreaterThanOrEqual(1);
      } finally {
        await all.return!();
      }
    });
  });

  describe("identities shared through the network", () => {
    test("an identity created by xmtp-js is loaded by our client, and the reverse", async () => {
      const w1 = wallet();
      const js1 = await clients.jsClient(w1);
      const ours1 = await clients.ourClient(w1);
      expect(ours1.keySource).toBe("network");
      expect(ours1.address).toBe(w1.address);
      expect(ours1.keys.identity.publicKey).toEqual(
        js1.publicKeyBundle.identityKey.secp256k1Uncompressed.bytes,
      );
      const w2 = wallet();
      const ours2 = await clients.ourClient(w2);
      expect(ours2.keySource).toBe("generated");
      const js2 = await clients.jsClient(w2);
      expect(js2.publicKeyBundle.identityKey.secp256k1Uncompressed.bytes).toEqual(
        ours2.keys.identity.publicKey,
      );
      // Both SDKs over the same identity see the same conversation.
      const convo = await ours1.conversations.newConversation(w2.address);
      await convo.send("same keys");
      expect((await js2.conversations.list()).map((c) => c.topic)).toEqual([convo.topic]);
      expect((await js1.conversations.list()).map((c) => c.topic)).toEqual([convo.topic]);
      // Creating the conversation allowed the peer in the consent list xmtp-js reads for this identity.
      await js1.contacts.refreshConsentList();
      expect(js1.contacts.isAllowed(w2.address)).toBe(true);
      // And consent xmtp-js publishes is read by our client.
      await js2.contacts.deny([w1.address]);
      await ours2.consent.load();
      expect(ours2.consent.consentState(w1.address)).toBe("denied");
      // Exported keys start a client without any signature, and xmtp-js accepts them too.
      const keys = ours2.exportKeys();
      const viaKeys = await clients.ourClient(w2, { privateKeyOverride: keys });
      expect(viaKeys.keySource).toBe("static");
      const jsViaKeys = await clients.jsClient(w2, { privateKeyOverride: keys });
      expect(jsViaKeys.address).toBe(w2.address);
    });
  });

  describe("consent proofs with xmtp-js", () => {
    test("a proof we sign lets xmtp-js's invitation in, and a proof its user signs lets ours in", async () => {
      // Our user grants consent to an xmtp-js sender, who carries the proof in its invitation.
      const [ow, jw] = [wallet(), wallet()];
      const ours = await clients.ourClient(ow);
      const js = await clients.jsClient(jw);
      const proof = await createConsentProof(ow.ours, jw.address);
      const jsConvo = await js.conversations.newConversation(ow.address, undefined, {
        signature: proof.signature,
        timestamp: Long.fromString(proof.timestamp.toString(), true),
        payloadVersion: proof.payloadVersion,
      });
      expect(ours.consent.consentState(jw.address)).toBe("unknown");
      await ours.consent.load();
      expect(ours.consent.consentState(jw.address)).toBe("allowed");
      expect((await ours.conversations.list()).map((c) => c.topic)).toEqual([jsConvo.topic]);

      // An xmtp-js user grants consent to our sender; xmtp-js honours the proof when it loads consent.
      const [ow2, jw2] = [wallet(), wallet()];
      const ours2 = await clients.ourClient(ow2);
      const js2 = await clients.jsClient(jw2);
      await ours2.conversations.newConversation(jw2.address, {
        consentProof: await createConsentProof(jw2.ours, ow2.address),
      });
      await js2.contacts.refreshConsentList();
      expect(js2.contacts.consentState(ow2.address)).toBe("allowed");

      // A proof signed by someone else is ignored.
      const [ow3, jw3] = [wallet(), wallet()];
      const ours3 = await clients.ourClient(ow3);
      const js3 = await clients.jsClient(jw3);
      const foreign = await createConsentProof(wallet().ours, jw3.address);
      await js3.conversations.newConversation(ow3.address, undefined, {
        signature: foreign.signature,
        timestamp: Long.fromString(foreign.timestamp.toString(), true),
        payloadVersion: foreign.payloadVersion,
      });
      await ours3.consent.load();
      expect(ours3.consent.consentState(jw3.address)).toBe("unknown");
    });
  });

  describe("conversation store", () => {
    test("a client started again with the same store has its conversations before listing", async () => {
      const [ow, jw] = [wallet(), wallet()];
      const store = memoryConversationStore();
      const ours = await clients.ourClient(ow, { conversationStore: store });
      const js = await clients.jsClient(jw);
      const jsConvo = await js.conversations.newConversation(ow.address);
      expect((await ours.conversations.list()).map((c) => c.topic)).toEqual([jsConvo.topic]);
      const again = await clients.ourClient(ow, { conversationStore: store });
      const cached = again.conversations.listFromCache();
      expect(cached.map((c) => [c.topic, c.peerAddress])).toEqual([[jsConvo.topic, jw.address]]);
      await jsConvo.send("after a restart");
      expect((await cached[0]!.messages()).map((m) => m.content)).toEqual(["after a restart"]);
    });
  });

  describe("content types", () => {
    test("text, compressed text both ways; other types reach xmtp-js as fallback", async () => {
      const [jw, ow] = [wallet(), wallet()];
      const ours = await clients.ourClient(ow);
      const js = await clients.jsClient(jw);
      const convo = await ours.conversations.newConversation(jw.address);
      const long = "compress me ".repeat(40);
      await convo.send("plain");
      await convo.send(long, { compression: Compression.DEFLATE });
      await convo.send(long, { compression: Compression.GZIP });
      await convo.send(
        { reference: "abc", action: "added", schema: "unicode", content: "👍" },
        { contentType: ContentTypeReaction },
      );
      const jsConvo = (await js.conversations.list())[0]!;
      const jsMsgs = await jsConvo.messages();
      expect(jsMsgs.map((m) => m.content)).toEqual(["plain", long, long, undefined]);
      expect(jsMsgs[3]!.contentType.typeId).toBe("reaction");
      expect(jsMsgs[3]!.contentFallback).toContain("👍");
      await jsConvo.send(long, { compression: 0 as never, contentType: JsContentTypeText });
      await jsConvo.send(long, { compression: 1 as never });
      const mine = await convo.messages();
      expect(mine.slice(4).map((m) => m.content)).toEqual([long, long]);
      expect(mine[3]!.content).toEqual({
        reference: "abc",
        action: "added",
        schema: "unicode",
        content: "👍",
      });
    });
  });

  describe("forgeries", () => {
    test("each forged envelope is skipped with a typed error, streams keep going", async () => {
      const [jw, ow, mw] = [wallet(), wallet(), wallet()];
      const ours = await clients.ourClient(ow);
      const js = await clients.jsClient(jw);
      const mallory = await clients.ourClient(mw);
      const convo = (await ours.conversations.newConversation(jw.address)) as ConversationV2;
      const { forgeAll } = await import("./client-forgeries.js");
      const errors: MessageDecodeError[] = [];
      const stream = await convo.streamMessages({ onError: (e) => errors.push(e) });
      try {
        const forged = await forgeAll(convo, ours.keys, mallory.keys);
        await ours.publishEnvelopes(forged.map((f) => f.envelope));
        const jsConvo = (await js.conversations.list())[0]!;
        await jsConvo.send("genuine");
        const got: DecodedMessage = await nextOf(stream, "genuine message after forgeries");
        expect(got.content).toBe("genuine");
        expect(errors.map((e) => e.reason).sort()).toEqual(forged.map((f) => f.reason).sort());
        const listed: MessageDecodeError[] = [];
        const msgs = await convo.messages({ onError: (e) => listed.push(e) });
        expect(msgs.map((m) => m.content)).toEqual(["genuine"]);
        expect(listed.map((e) => e.reason).sort()).toEqual(forged.map((f) => f.reason).sort());
        for (const e of listed) expect(e).toBeInstanceOf(MessageDecodeError);
      } finally {
        await stream.return!();
      }
    });
  });
});
