import { create } from "@bufbuild/protobuf";
import { type Envelope, EnvelopeSchema } from "@xmtp-ts/proto";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Subscription } from "../api/types.js";
import { createDispatcher } from "./dispatcher.js";

const TOPICS = ["/xmtp/0/m-a/proto", "/xmtp/0/m-b/proto", "/xmtp/0/m-c/proto", "/other/d"];

type Op =
  | { op: "subscribe"; topics: string[] }
  | { op: "setTopics"; sub: number; topics: string[] }
  | { op: "publish"; topic: string }
  | { op: "drain"; sub: number }
  | { op: "close"; sub: number };

const topicList = fc.subarray([...TOPICS, "*"]);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant("subscribe" as const), topics: topicList }), weight: 2 },
  {
    arbitrary: fc.record({ op: fc.constant("setTopics" as const), sub: fc.nat(3), topics: topicList }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant("publish" as const), topic: fc.constantFrom(...TOPICS) }),
    weight: 8,
  },
  { arbitrary: fc.record({ op: fc.constant("drain" as const), sub: fc.nat(3) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("close" as const), sub: fc.nat(3) }), weight: 1 },
);

/**
 * The reference model of one subscription. A reader that found nothing left a next() pending
 * (`waiting`): the next envelope goes straight to it (`taken`) and does not use buffer space.
 */
interface ModelSub {
  topics: Set<string> | "all";
  taken: bigint | undefined;
  queue: bigint[];
  waiting: boolean;
  state: "open" | "closed" | "overflowed";
}

const matches = (topics: Set<string> | "all", topic: string) =>
  topics === "all" ? topic.startsWith("/xmtp/0/") : topics.has(topic);
const toModelTopics = (t: string[]): Set<string> | "all" => (t.includes("*") ? "all" : new Set(t));

const MARK = Symbol("nothing");

/** Takes whatever is ready now, remembering a pending next() so no envelope is lost. */
class Reader {
  private pending: Promise<IteratorResult<Envelope>> | undefined;
  constructor(private readonly it: AsyncIterator<Envelope>) {}
  async readReady(): Promise<{ values: bigint[]; error?: unknown; done: boolean }> {
    const values: bigint[] = [];
    for (;;) {
      const p = this.pending ?? this.it.next();
      this.pending = undefined;
      let r: IteratorResult<Envelope> | typeof MARK;
      try {
        r = await Promise.race([p, new Promise<typeof MARK>((res) => setImmediate(() => res(MARK)))]);
      } catch (error) {
        return { values, error, done: true };
      }
      if (r === MARK) {
        this.pending = p;
        // Avoid an unhandled rejection if the subscription overflows while nobody awaits.
        p.catch(() => {});
        return { values, done: false };
      }
      if (r.done) return { values, done: true };
      values.push(r.value.timestampNs);
    }
  }
}

describe("dispatcher model", () => {
  it("matches a simple model under random subscribe / setTopics / publish / drain / close", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 20, maxLength: 150 }),
        fc.integer({ min: 1, max: 4 }),
        async (ops, size) => {
          const d = createDispatcher({ bufferSize: size, allBufferSize: size });
          const subs: { real: Subscription; reader: Reader; model: ModelSub }[] = [];
          let ts = 0n;
          let overflows = 0;
          for (const o of ops) {
            switch (o.op) {
              case "subscribe": {
                const real = d.subscribe(o.topics);
                subs.push({
                  real,
                  reader: new Reader(real[Symbol.asyncIterator]()),
                  model: {
                    topics: toModelTopics(o.topics),
                    taken: undefined,
                    queue: [],
                    waiting: false,
                    state: "open",
                  },
                });
                break;
              }
              case "setTopics": {
                const s = subs[o.sub];
                if (s === undefined) break;
                s.real.setTopics(o.topics);
                if (s.model.state === "open") {
                  s.model.topics = toModelTopics(o.topics);
                  const t = s.model.topics;
                  // Queued envelopes of dropped topics go; kept topics keep theirs.
                  s.model.queue = s.model.queue.filter((v) => matches(t, TOPICS[Number(v % 10n)]!));
                }
                break;
              }
              case "publish": {
                ts += 10n;
                const v = ts + BigInt(TOPICS.indexOf(o.topic));
                d.publish(create(EnvelopeSchema, { contentTopic: o.topic, timestampNs: v }));
                for (const s of subs) {
                  if (s.model.state !== "open" || !matches(s.model.topics, o.topic)) continue;
                  if (s.model.waiting) {
                    s.model.taken = v;
                    s.model.waiting = false;
                  } else if (s.model.queue.length >= size) {
                    s.model.state = "overflowed";
                    s.model.queue = [];
                    overflows++;
                  } else s.model.queue.push(v);
                }
                break;
              }
              case "drain": {
                const s = subs[o.sub];
                if (s === undefined) break;
                const got = await s.reader.readReady();
                const want = s.model.taken === undefined ? s.model.queue : [s.model.taken, ...s.model.queue];
                expect(got.values).toEqual(want);
                s.model.taken = undefined;
                s.model.queue = [];
                s.model.waiting = s.model.state === "open";
                if (s.model.state === "overflowed") {
                  expect(got.error).toBeInstanceOf(XmtpError);
                  expect((got.error as XmtpError).code).toBe(Code.Aborted);
                  s.model.state = "closed";
                } else {
                  expect(got.error).toBeUndefined();
                  expect(got.done).toBe(s.model.state === "closed");
                }
                break;
              }
              case "close": {
                const s = subs[o.sub];
                if (s === undefined) break;
                s.real.close();
                s.model.queue = [];
                s.model.state = "closed";
                break;
              }
            }
          }
          const open = subs.filter((s) => s.model.state === "open").length;
          expect(d.stats().subscriptions).toBe(open);
          expect(d.stats().overflows).toBe(overflows);
          d.closeAll();
          expect(d.stats()).toMatchObject({ subscriptions: 0, topics: 0 });
        },
      ),
      { numRuns: 500 },
    );
  });
});
