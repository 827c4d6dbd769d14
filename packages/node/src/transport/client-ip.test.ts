import { describe, expect, test } from "vitest";
import { clientIpResolver } from "./client-ip.js";

describe("client IP behind proxies", () => {
  test("without trusted proxies the socket address counts and the header is ignored", () => {
    const ip = clientIpResolver([]);
    expect(ip("10.0.0.9", "1.2.3.4")).toBe("10.0.0.9");
    expect(ip(undefined, "1.2.3.4")).toBeUndefined();
  });

  test("a trusted proxy's X-Forwarded-For names the client: the nearest untrusted hop", () => {
    const ip = clientIpResolver(["10.0.0.1", "10.0.0.2"]);
    expect(ip("10.0.0.1", "203.0.113.7")).toBe("203.0.113.7");
    expect(ip("::ffff:10.0.0.1", "203.0.113.7")).toBe("203.0.113.7");
    // A client-supplied first entry is not believed: the proxies only vouch for what they saw.
    expect(ip("10.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2")).toBe("203.0.113.7");
    expect(ip("10.0.0.1", ["6.6.6.6", "203.0.113.7"])).toBe("203.0.113.7");
    expect(ip("10.0.0.1", "2001:db8::5")).toBe("2001:db8::5");
  });

  test("an untrusted peer, a missing or garbled header: the socket address", () => {
    const ip = clientIpResolver(["10.0.0.1"]);
    expect(ip("198.51.100.3", "203.0.113.7")).toBe("198.51.100.3");
    expect(ip("10.0.0.1", undefined)).toBe("10.0.0.1");
    expect(ip("10.0.0.1", "")).toBe("10.0.0.1");
    expect(ip("10.0.0.1", "not-an-ip")).toBe("10.0.0.1");
    expect(ip("10.0.0.1", "10.0.0.1")).toBe("10.0.0.1");
  });
});
