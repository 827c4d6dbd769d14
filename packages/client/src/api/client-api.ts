/**
 * Adapts {@link ApiClient} to the narrower interfaces the keystore, contacts and conversations code
 * was written against (`ClientApi` in client.ts), so `Client.create({ apiUrl })` runs on it.
 */
import { SortDirection } from "@xmtp-ts/proto";
import type { ClientApi } from "../client.js";
import { ApiClient, type ApiClientOptions } from "./api-client.js";
import { localAuthenticator } from "./authenticator.js";

/** A {@link ClientApi} over the HTTP gateway at `apiUrl`. */
export function networkClientApi(apiUrl: string, options: Omit<ApiClientOptions, "apiUrl"> = {}): ClientApi {
  const api = new ApiClient({ ...options, apiUrl });
  return {
    setIdentity(bundle) {
      api.setAuthenticator(localAuthenticator(bundle));
    },
    publish: (envelopes) => api.publish(envelopes),
    async query(topic, opts) {
      const res = await api.query({
        contentTopics: [topic],
        pagingInfo: {
          limit: opts.limit,
          direction: opts.direction,
          ...(opts.cursor ? { cursor: opts.cursor } : {}),
        },
      });
      return res.envelopes;
    },
    async batchQuery(requests) {
      const res = await api.batchQuery(
        requests.map(({ topic, opts }) => ({
          contentTopics: [topic],
          pagingInfo: {
            limit: opts.limit,
            direction: opts.direction,
            ...(opts.cursor ? { cursor: opts.cursor } : {}),
          },
        })),
      );
      return res.map((r) => r.envelopes);
    },
    queryPages(topic, range) {
      return api.queryIteratePages(topic, {
        direction: range.direction === "descending" ? SortDirection.DESCENDING : SortDirection.ASCENDING,
        ...(range.startNs ? { startTime: range.startNs } : {}),
        ...(range.endNs ? { endTime: range.endNs } : {}),
        ...(range.limit !== undefined ? { limit: range.limit } : {}),
        ...(range.pageSize !== undefined ? { pageSize: range.pageSize } : {}),
      });
    },
    async subscribe(topics, signal, hooks = {}) {
      const sub = api.subscribe(topics, {
        signal,
        ...(hooks.onConnectionLost ? { onConnectionLost: hooks.onConnectionLost } : {}),
        ...(hooks.onReconnect ? { onReconnect: hooks.onReconnect } : {}),
      });
      await sub.ready;
      return sub;
    },
    close() {
      api.close();
    },
  };
}
