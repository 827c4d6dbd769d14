import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, MessageSchema } from "@xmtp-ts/proto";
import { describe, expect, test } from "vitest";
import { randomKeys, vectorKeys } from "./test-fixtures.js";
import { decodeMessageV1, encodeMessageV1, v1Envelopes } from "./v1.js";
import { MessageDecodeError } from "./v2.js";

const alice = vectorKeys("alice");
const bob = vectorKeys("bob");
const payload = new Uint8Array([1, 2, 3, 4]);
const dm = `/xmtp/0/dm-${bob.address}-${alice.address}/proto`;

const reason = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e) => (e instanceof MessageDecodeError ? e.reason : `other: ${e}`),
  );

describe("V1", () => {
  test("round trip from both sides, topics and intros", async () => {
    const enc = await encodeMessageV1(alice, bob.legacyBundle, payload, 1234n);
    const envs = v1Envelopes(alice.address, bob.address, enc.bytes, 1234n, { intro: true });
    expect(envs.map((e) => e.contentTopic)).toEqual([
      `/xmtp/0/intro-${bob.address}/proto`,
      `/xmtp/0/intro-${alice.address}/proto`,
      dm,
    ]);
    expect(envs.every((e) => e.timestampNs === 1_234_000_000n)).toBe(true);
    expect(
      v1Envelopes(alice.address, bob.address, enc.bytes, 1n, { intro: true, ephemeral: true }).map(
        (e) => e.contentTopic,
      ),
    ).toEqual([dm.replace("/dm-", "/dmE-")]);
    const atBob = await decodeMessageV1(bob, envs[2]!, dm);
    expect(atBob).toMatchObject({
      senderAddress: alice.address,
      recipientAddress: bob.address,
      peerAddress: alice.address,
      sentMs: 1234n,
      id: enc.id,
    });
    expect(atBob.payload).toEqual(payload);
    const atAlice = await decodeMessageV1(alice, envs[0]!);
    expect(atAlice.peerAddress).toBe(bob.address);
  });

  test("uses the pre-key named in the header after rotation", async () => {
    const enc = await encodeMessageV1(alice, bob.legacyBundle, payload, 1n);
    const rotatedBob = { ...bob, preKeys: [randomKeys().preKeys[0]!, ...bob.preKeys] };
    const env = create(EnvelopeSchema, { contentTopic: dm, timestampNs: 1_000_000n, message: enc.bytes });
    expect((await decodeMessageV1(rotatedBob, env, dm)).payload).toEqual(payload);
  });

  test("rejections", async () => {
    const enc = await encodeMessageV1(alice, bob.legacyBundle, payload, 1n);
    const env = (message: Uint8Array, contentTopic = dm) =>
      create(EnvelopeSchema, { contentTopic, timestampNs: 1n, message });
    expect(await reason(decodeMessageV1(bob, env(enc.bytes), `/xmtp/0/dm-x-y/proto`))).toBe(
      "headers-mismatch",
    );
    expect(await reason(decodeMessageV1(randomKeys(), env(enc.bytes)))).toBe("headers-mismatch");
    expect(await reason(decodeMessageV1(bob, env(new Uint8Array([0xff]))))).toBe("malformed");
    expect(await reason(decodeMessageV1(bob, env(new Uint8Array(0))))).toBe("empty-envelope");
    const m = fromBinary(MessageSchema, enc.bytes);
    if (m.version.case !== "v1" || m.version.value.ciphertext?.union.case !== "aes256GcmHkdfSha256")
      throw new Error();
    m.version.value.ciphertext.union.value.payload[0]! ^= 1;
    expect(await reason(decodeMessageV1(bob, env(toBinary(MessageSchema, m))))).toBe("decrypt-failed");
    const big = toBinary(
      MessageSchema,
      create(MessageSchema, {
        version: { case: "v1", value: { headerBytes: new Uint8Array(8 * 1024 + 1) } },
      }),
    );
    expect(await reason(decodeMessageV1(bob, env(big)))).toBe("too-large");
    const v2 = toBinary(MessageSchema, create(MessageSchema, { version: { case: "v2", value: {} } }));
    expect(await reason(decodeMessageV1(bob, env(v2)))).toBe("unknown-version");
  });
});
