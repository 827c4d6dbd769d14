/** Forged V2 envelopes for a real conversation: each must be skipped with the named reason. */
import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ConversationV2, MessageDecodeErrorReason, OwnKeys } from "../packages/client/src/advanced.js";
import { signV2 } from "../packages/client/src/conversations/v2.js";
import { encrypt } from "../packages/client/src/crypto/index.js";
import {
  type Envelope,
  EnvelopeSchema,
  MessageSchema,
  SignatureSchema,
  SignedContentSchema,
  SignedPublicKeyBundleSchema,
} from "../packages/proto/src/index.js";
import { sha256, signCompact } from "../packages/protocol/src/index.js";

const TEXT = new Uint8Array([
  0x0a, 0x12, 0x0a, 0x08, 0x78, 0x6d, 0x74, 0x70, 0x2e, 0x6f, 0x72, 0x67, 0x12, 0x04, 0x74, 0x65, 0x78, 0x74,
  0x18, 0x01, 0x12, 0x11, 0x0a, 0x08, 0x65, 0x6e, 0x63, 0x6f, 0x64, 0x69, 0x6e, 0x67, 0x12, 0x05, 0x55, 0x54,
  0x46, 0x2d, 0x38, 0x22, 0x06, 0x66, 0x6f, 0x72, 0x67, 0x65, 0x64,
]); // EncodedContent text "forged"

async function build(
  convo: ConversationV2,
  own: OwnKeys,
  opts: {
    headerTopic?: string;
    mutate?: (s: ReturnType<typeof fromBinary<typeof SignedContentSchema>>) => void;
    tamper?: boolean;
  },
  createdNs: bigint,
): Promise<Envelope> {
  const { headerBytes, signedBytes } = signV2(own, opts.headerTopic ?? convo.topic, TEXT, createdNs);
  const signed = fromBinary(SignedContentSchema, signedBytes);
  opts.mutate?.(signed);
  const ciphertext = await encrypt(toBinary(SignedContentSchema, signed), convo.keyMaterial, headerBytes);
  if (opts.tamper && ciphertext.union.case === "aes256GcmHkdfSha256")
    ciphertext.union.value.payload[5]! ^= 0x40;
  const message = toBinary(
    MessageSchema,
    create(MessageSchema, { version: { case: "v2", value: { headerBytes, ciphertext } } }),
  );
  return create(EnvelopeSchema, { contentTopic: convo.topic, timestampNs: createdNs, message });
}

/** Five forgeries, one per rule: bad signature, unsigned pre-key, wrong topic, outsider, tampering. */
export async function forgeAll(
  convo: ConversationV2,
  own: OwnKeys,
  outsider: OwnKeys,
): Promise<{ reason: MessageDecodeErrorReason; envelope: Envelope }[]> {
  const t = BigInt(Date.now()) * 1_000_000n;
  const wrong = signCompact(own.preKeys[0]!.privateKey, sha256(new Uint8Array([42])));
  return [
    {
      reason: "bad-signature",
      envelope: await build(
        convo,
        own,
        {
          mutate: (s) => {
            s.signature = create(SignatureSchema, {
              union: { case: "ecdsaCompact", value: { bytes: wrong.bytes, recovery: wrong.recovery } },
            });
          },
        },
        t + 1n,
      ),
    },
    {
      reason: "pre-key-not-signed",
      envelope: await build(
        convo,
        {
          ...outsider,
          signedBundle: create(SignedPublicKeyBundleSchema, {
            identityKey: clone(SignedPublicKeyBundleSchema, own.signedBundle).identityKey,
            preKey: clone(SignedPublicKeyBundleSchema, outsider.signedBundle).preKey,
          }),
        },
        {},
        t + 2n,
      ),
    },
    {
      reason: "topic-mismatch",
      envelope: await build(convo, own, { headerTopic: `${convo.topic.slice(0, -8)}00/proto` }, t + 3n),
    },
    { reason: "sender-not-participant", envelope: await build(convo, outsider, {}, t + 4n) },
    { reason: "decrypt-failed", envelope: await build(convo, own, { tamper: true }, t + 5n) },
  ];
}
