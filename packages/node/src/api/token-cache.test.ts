import { create } from "@bufbuild/protobuf";
import { PublishRequestSchema } from "@xmtp-ts/proto";
import {
  buildTopic,
  Code,
  initSecp256k1,
  type Secp256k1Backend,
  useSecp256k1Backend,
  XmtpError,
} from "@xmtp-ts/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDispatcher } from "../dispatch/dispatcher.js";
import { createSqliteStore } from "../store/sqlite.js";
import { createPublishAuthorizer } from "./auth.js";
import { createMessageApi } from "./service.js";
import { alice, bob, env } from "./test-support.js";
import { createTokenCache, TOKEN_CACHE_MAX_HEADER_CHARS } from "./token-cache.js";

const HOUR_NS = 3_600_000_000_000n;
const T0 = 1_800_000_000_000_000_000n;

/** Counts the signature checks (verify and recover) that token verification asks of the backend. */
let checks = 0;
beforeAll(async () => {
  const real = await initSecp256k1();
  const counting: Secp256k1Backend = {
    ...real,
    verify: (...a) => {
      checks++;
      return real.verify(...a);
    },
    recover: (...a) => {
      checks++;
      return real.recover(...a);
    },
  };
  useSecp256k1Backend(counting);
});
afterAll(() => useSecp256k1Backend(undefined));

/** Runs `f` and returns how many signature checks it cost. */
function cost(f: () => unknown): number {
  const before = checks;
  f();
  return checks - before;
}

function expectUnauthenticated(f: () => unknown, message: string) {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(XmtpError);
    expect((err as XmtpError).code).toBe(Code.Unauthenticated);
    expect((err as XmtpError).message).toBe(message);
    return;
  }
  throw new Error("expected a refusal");
}

describe("token cache", () => {
  it("verifies a token once, then answers from memory with the same result", () => {
    const cache = createTokenCache();
    const header = alice.bearer(T0);
    let first: unknown;
    expect(cost(() => (first = cache.verify(header, T0 + 1n)))).toBe(2);
    expect(first).toEqual({ walletAddress: alice.wallet, createdNs: T0 });
    expect(cost(() => expect(cache.verify(header, T0 + 2n)).toEqual(first))).toBe(0);
    expect(cache.size).toBe(1);
  });

  it("never remembers a failed token: each try costs the full check and fails again", () => {
    const cache = createTokenCache();
    const good = alice.bearer(T0);
    // Same token, one byte of the auth data signature changed (base64 of the tail).
    const bad = `${good.slice(0, -8)}${good.slice(-8, -4) === "AAAA" ? "BBBB" : "AAAA"}${good.slice(-4)}`;
    for (let i = 0; i < 3; i++) {
      expect(cost(() => expect(() => cache.verify(bad, T0)).toThrow(XmtpError))).toBeGreaterThan(0);
    }
    expectUnauthenticated(() => cache.verify(undefined, T0), "authorization token is not provided");
    expectUnauthenticated(() => cache.verify("Bearer AAAA", T0), "validating token: missing identity key");
    expect(cache.size).toBe(0);
  });

  it("an expired token is refused as before, even when remembered (fake clock)", () => {
    vi.useFakeTimers();
    try {
      vi.setSystemTime(new Date(Number(T0 / 1_000_000n)));
      const nowNs = () => BigInt(Date.now()) * 1_000_000n;
      const cache = createTokenCache();
      const header = bob.bearer(nowNs());
      cache.verify(header, nowNs());
      vi.advanceTimersByTime(59 * 60_000);
      expect(cost(() => cache.verify(header, nowNs()))).toBe(0);
      vi.advanceTimersByTime(60_001);
      expectUnauthenticated(() => cache.verify(header, nowNs()), "validating token: token expired");
      expect(cache.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a shorter configured maximum age and a future bound apply to remembered tokens too", () => {
    const cache = createTokenCache({ maxAgeNs: 60_000_000_000n, maxFutureNs: 1_000_000_000n });
    const header = alice.bearer(T0);
    cache.verify(header, T0);
    expect(cost(() => cache.verify(header, T0 + 60_000_000_000n))).toBe(0);
    expectUnauthenticated(
      () => cache.verify(header, T0 + 60_000_000_001n),
      "validating token: token expired",
    );
    cache.verify(header, T0);
    // The node's clock stepped back: the token is now too far ahead and is checked in full.
    expectUnauthenticated(
      () => cache.verify(header, T0 - 2_000_000_000n),
      "validating token: token created in the future",
    );
  });

  it("is bounded: the least recently used token goes first", () => {
    const cache = createTokenCache({ maxEntries: 2 });
    const [a, b, c] = [alice.bearer(T0), bob.bearer(T0), alice.bearer(T0 + 1n)];
    cache.verify(a, T0 + 5n);
    cache.verify(b, T0 + 5n);
    expect(cost(() => cache.verify(a, T0 + 5n))).toBe(0); // a is now the most recent
    cache.verify(c, T0 + 5n); // evicts b
    expect(cache.size).toBe(2);
    expect(cost(() => cache.verify(a, T0 + 5n))).toBe(0);
    expect(cost(() => cache.verify(c, T0 + 5n))).toBe(0);
    expect(cost(() => cache.verify(b, T0 + 5n))).toBe(2);
  });

  it("does not remember oversized headers", () => {
    const cache = createTokenCache();
    const header = `${alice.bearer(T0)}${" ".repeat(TOKEN_CACHE_MAX_HEADER_CHARS)}`;
    expect(cache.verify(header, T0).walletAddress).toBe(alice.wallet);
    expect(cache.size).toBe(0);
    expect(cost(() => cache.verify(header, T0))).toBe(2);
  });

  it("checks topic ownership on every envelope, even when the token is remembered", () => {
    const authorizer = createPublishAuthorizer({}, createTokenCache());
    const header = alice.bearer(T0);
    const own = env(buildTopic.contact(alice.wallet), 1);
    const other = env(buildTopic.contact(bob.wallet), 2);
    expect(authorizer.authorize(header, [own], T0)).toBe(alice.wallet);
    for (let i = 0; i < 2; i++) {
      expect(
        cost(() =>
          expect(() => authorizer.authorize(header, [own, other], T0)).toThrow(
            "publishing to restricted topic",
          ),
        ),
      ).toBe(0);
    }
  });
});

describe("the message API's Publish with auth on", () => {
  const apis: ReturnType<typeof createMessageApi>[] = [];
  afterEach(() => {
    for (const a of apis.splice(0)) a.stop();
    vi.useRealTimers();
  });

  it("checks a client's token once across publishes, and refuses it once it expires (wall clock)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(Number(T0 / 1_000_000n)));
    const store = createSqliteStore({ path: ":memory:" });
    await store.start();
    const api = createMessageApi({ store, dispatcher: createDispatcher(), auth: { required: true } });
    apis.push(api);
    const header = alice.bearer(T0);
    const publish = (ts: number) =>
      api.publish(create(PublishRequestSchema, { envelopes: [env(buildTopic.contact(alice.wallet), ts)] }), {
        authorization: header,
      });
    await publish(1);
    const before = checks;
    for (let i = 2; i < 12; i++) await publish(i);
    expect(checks - before).toBe(0);
    vi.setSystemTime(new Date(Number((T0 + HOUR_NS) / 1_000_000n) + 1));
    await expect(publish(12)).rejects.toThrow("validating token: token expired");
    expect(await store.count()).toBe(11);
    await store.stop();
  });
});
