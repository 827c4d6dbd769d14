/**
 * Child process for durability.test.ts: inserts envelopes in a loop from several concurrent
 * writers and prints one line per envelope only after its insert resolved. The parent SIGKILLs it
 * at some point and then checks that every printed envelope is in the store.
 *
 * argv: sqlite <path> <full|normal>  |  postgres <url> <schema>
 * With XMTP_CHILD_ONCE=1 it inserts one envelope, stops the store and prints "stopped" instead.
 */
import { envelopeDigest } from "@xmtp-ts/protocol";
import { createPostgresStore } from "./postgres.js";
import { createSqliteStore } from "./sqlite.js";
import type { StoredEnvelope } from "./types.js";

const [backend, target, extra] = process.argv.slice(2);
if (backend === undefined || target === undefined || extra === undefined) throw new Error("usage");
const store =
  backend === "sqlite"
    ? createSqliteStore({ path: target, synchronous: extra === "normal" ? "normal" : "full" })
    : createPostgresStore({ url: target, schema: extra, poolSize: 4 });
await store.start();
process.stdout.write("ready\n");

if (process.env.XMTP_CHILD_ONCE === "1") {
  // One insert, then stop: the process must end on its own once the store is stopped.
  const message = new TextEncoder().encode("once");
  const topic = "/xmtp/0/once/proto";
  await store.insert([
    { contentTopic: topic, timestampNs: 1n, message, digest: envelopeDigest(topic, message) },
  ]);
  await store.stop();
  process.stdout.write("stopped\n");
} else {
  const WRITERS = 6;
  const writer = async (w: number) => {
    const topic = `/xmtp/0/durable-${w}/proto`;
    for (let n = 0; ; n++) {
      const size = 1 + (n % 4);
      const batch: StoredEnvelope[] = [];
      for (let k = 0; k < size; k++) {
        const message = new TextEncoder().encode(`w${w}-n${n}-k${k}-${"x".repeat(n % 300)}`);
        batch.push({
          contentTopic: topic,
          timestampNs: BigInt(n * 10 + k),
          message,
          digest: envelopeDigest(topic, message),
        });
      }
      await store.insert(batch);
      process.stdout.write(
        batch.map((e) => `ack ${topic} ${e.timestampNs} ${Buffer.from(e.digest).toString("hex")}\n`).join(""),
      );
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
}
