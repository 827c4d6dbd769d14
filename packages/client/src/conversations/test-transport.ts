/** Test-only: an in-process topic store with the node's query order and live subscriptions. */
import { clone } from "@bufbuild/protobuf";
import { type Envelope, EnvelopeSchema } from "@xmtp-ts/proto";
import { isEphemeralTopic } from "@xmtp-ts/protocol";
import { AsyncQueue } from "./async-queue.js";
import { sha256, toHex } from "./primitives.js";
import type { ConversationTransport, QueryRange } from "./transport.js";

export class MemoryTransport implements ConversationTransport {
  readonly rows = new Map<string, { env: Envelope; digest: string }[]>();
  private readonly subs = new Set<{ topics: Set<string>; q: AsyncQueue<Envelope> }>();
  publishes = 0;
  readonly queries: { topic: string; range: QueryRange }[] = [];

  async publish(envelopes: Envelope[]): Promise<void> {
    this.publishes++;
    for (const e of envelopes) {
      const env = clone(EnvelopeSchema, e);
      if (!isEphemeralTopic(env.contentTopic)) {
        const list = this.rows.get(env.contentTopic) ?? [];
        const digest = toHex(
          sha256(new Uint8Array([...new TextEncoder().encode(env.contentTopic), ...env.message])),
        );
        if (!list.some((r) => r.digest === digest && r.env.timestampNs === env.timestampNs))
          list.push({ env, digest });
        list.sort((a, b) =>
          a.env.timestampNs < b.env.timestampNs
            ? -1
            : a.env.timestampNs > b.env.timestampNs
              ? 1
              : a.digest < b.digest
                ? -1
                : 1,
        );
        this.rows.set(env.contentTopic, list);
      }
      for (const s of this.subs) if (s.topics.has(env.contentTopic)) s.q.push(env);
    }
  }

  async *queryPages(topic: string, range: QueryRange): AsyncIterable<Envelope[]> {
    this.queries.push({ topic, range });
    let list = (this.rows.get(topic) ?? []).map((r) => r.env);
    if (range.startNs) list = list.filter((e) => e.timestampNs >= range.startNs!);
    if (range.endNs) list = list.filter((e) => e.timestampNs <= range.endNs!);
    if (range.direction === "descending") list = list.reverse();
    if (range.limit !== undefined) list = list.slice(0, range.limit);
    const size = range.pageSize ?? 100;
    for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
  }

  async subscribe(topics: string[], signal: AbortSignal): Promise<AsyncIterable<Envelope>> {
    const entry = { topics: new Set(topics), q: new AsyncQueue<Envelope>(() => this.subs.delete(entry)) };
    this.subs.add(entry);
    signal.addEventListener("abort", () => entry.q.end(), { once: true });
    return entry.q;
  }

  /** Ends every live subscription, as a dropped connection would. */
  dropSubscriptions(): void {
    for (const s of [...this.subs]) s.q.end();
  }

  get subscriptions(): number {
    return this.subs.size;
  }
}
