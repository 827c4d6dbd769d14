/** Query helpers over any {@link NetworkApi} (or the part of it they use). */
import type { Cursor, Envelope, SortDirection } from "@xmtp-ts/proto";
import type { NetworkApi, QueryPagesOptions, SubscribeOptions, Subscription } from "./types.js";

/** Every envelope of a paged query, collected. */
export async function queryAll(
  api: Pick<NetworkApi, "queryPages">,
  topics: string | string[],
  opts: QueryPagesOptions = {},
): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const page of api.queryPages(topics, opts)) out.push(...page);
  return opts.limit !== undefined ? out.slice(0, opts.limit) : out;
}

/** One page of a topic (the first, or the one after `cursor`). */
export async function queryPage(
  api: Pick<NetworkApi, "query">,
  topic: string,
  opts: { limit: number; direction: SortDirection; cursor?: Cursor | undefined },
): Promise<Envelope[]> {
  const res = await api.query({
    contentTopics: [topic],
    pagingInfo: {
      limit: opts.limit,
      direction: opts.direction,
      ...(opts.cursor ? { cursor: opts.cursor } : {}),
    },
  });
  return res.envelopes;
}

/** A subscription once it is live (the node registered its topics); closed again if it fails. */
export async function liveSubscription(
  api: Pick<NetworkApi, "subscribe">,
  topics: string[],
  opts: SubscribeOptions,
): Promise<Subscription> {
  const sub = api.subscribe(topics, opts);
  try {
    await sub.ready;
  } catch (err) {
    sub.close();
    throw err;
  }
  return sub;
}
