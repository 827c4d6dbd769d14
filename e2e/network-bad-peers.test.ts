/**
 * A raw libp2p peer sends a spawned node malformed Waku store frames and relay messages that break
 * the limits: each bad stream is closed, bad messages are dropped and counted, and the node keeps
 * serving clients, peers and good messages.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { type GossipSub, gossipsub } from "@chainsafe/libp2p-gossipsub";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { HistoryQuerySchema, HistoryRPCSchema, WakuMessageSchema } from "@xmtp-ts/proto/waku";
import { MAX_MESSAGE_BYTES } from "@xmtp-ts/protocol";
import * as lp from "it-length-prefixed";
import { createLibp2p, type Libp2p } from "libp2p";
import { afterAll, beforeAll, expect, test } from "vitest";
import { RELAY_MULTICODECS } from "../packages/node/src/relay/relay.js";
import { queryPeerStore, WAKU_STORE_PROTOCOL } from "../packages/node/src/relay/store-protocol.js";
import { WAKU_PUBSUB_TOPIC } from "../packages/node/src/relay/waku-message.js";
import {
  health,
  metric,
  type NetNode,
  queryAll,
  removeTempDirs,
  startNetNode,
  text,
  topic,
  waitFor,
} from "./network-support.js";

let node: NetNode;
let raw: Libp2p<{ pubsub: GossipSub }>;

beforeAll(async () => {
  node = await startNetNode({ name: "target" });
  raw = (await createLibp2p({
    privateKey: (await generateKeyPair("secp256k1")) as never,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: "StrictNoSign",
        allowPublishToZeroTopicPeers: true,
      }) as never,
    },
    start: false,
  })) as unknown as Libp2p<{ pubsub: GossipSub }>;
  raw.services.pubsub.multicodecs = [...RELAY_MULTICODECS];
  await raw.start();
  raw.services.pubsub.subscribe(WAKU_PUBSUB_TOPIC);
  await raw.dial(multiaddr(node.multiaddr));
  await waitFor("raw peer meshed", async () => (await health(node)).relay.meshPeers === 1);
}, 60_000);

afterAll(async () => {
  await raw?.stop();
  await node?.stop();
  removeTempDirs();
});

test("malformed and oversized store frames close only their stream", async () => {
  const target = multiaddr(node.multiaddr);
  const drain = async (s: Awaited<ReturnType<Libp2p["dialProtocol"]>>) => {
    let frames = 0;
    try {
      for await (const _ of s.source) frames++;
    } catch {
      // reset by the node: closed all the same
    }
    return frames;
  };
  const bad: Uint8Array[] = [
    lp.encode.single(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 9, 9])).subarray(), // bad protobuf
    new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), // a 4 GiB length prefix
    lp.encode
      .single(toBinary(HistoryRPCSchema, create(HistoryRPCSchema, { requestId: "no query" })))
      .subarray(),
    lp.encode
      .single(
        toBinary(
          HistoryRPCSchema,
          create(HistoryRPCSchema, {
            requestId: "too many filters",
            query: { contentFilters: Array.from({ length: 1001 }, (_, i) => ({ contentTopic: `t${i}` })) },
          }),
        ),
      )
      .subarray(),
  ];
  for (const frame of bad) {
    const s = await raw.dialProtocol(target, WAKU_STORE_PROTOCOL);
    await s.sink([frame]);
    expect(await drain(s)).toBe(0);
  }
  await waitFor(
    "stream errors counted",
    async () => (await metric(node, "xmtp_store_protocol_stream_errors_total")) === 4,
  );
  // The same connection still gets answers.
  const r = await queryPeerStore(
    raw,
    raw.getConnections()[0]?.remotePeer as never,
    create(HistoryQuerySchema, {}),
    AbortSignal.timeout(5000),
  );
  expect(r.error).toBe(0);
  expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
}, 60_000);

test("relay messages over the limits or malformed are dropped; a good one is stored", async () => {
  const pub = (b: Uint8Array) => raw.services.pubsub.publish(WAKU_PUBSUB_TOPIC, b);
  const t = topic(`raw-${Date.now()}`);
  await pub(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
  await pub(
    toBinary(
      WakuMessageSchema,
      create(WakuMessageSchema, {
        contentTopic: t,
        payload: new Uint8Array(MAX_MESSAGE_BYTES + 1),
        timestamp: 1n,
      }),
    ),
  );
  await pub(
    toBinary(
      WakuMessageSchema,
      create(WakuMessageSchema, { contentTopic: "x".repeat(301), payload: new Uint8Array(1) }),
    ),
  );
  await pub(
    toBinary(
      WakuMessageSchema,
      create(WakuMessageSchema, {
        contentTopic: t,
        payload: new TextEncoder().encode("good"),
        timestamp: 5n,
      }),
    ),
  );
  await waitFor("good one stored", async () => (await queryAll(node, t)).length === 1);
  expect(text((await queryAll(node, t))[0]?.message ?? new Uint8Array())).toBe("good");
  expect(await metric(node, "xmtp_relay_rejected_total")).toBe(3);
  expect((await health(node)).status).toBe("SERVING");
}, 60_000);
