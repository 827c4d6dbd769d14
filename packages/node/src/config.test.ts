import { describe, expect, test } from "vitest";
import { ConfigError, DEFAULT_CONFIG, DEFAULT_P2P_PORT, flagName, resolveConfig } from "./config.js";

describe("resolveConfig", () => {
  test("defaults: ports 5555/5556, ./data, info, auth on, rate limits off, 50 MiB", () => {
    const c = resolveConfig({}, {});
    expect(c).toMatchObject({
      httpPort: 5555,
      grpcPort: 5556,
      dataDir: "./data",
      logLevel: "info",
      auth: true,
      rateLimits: false,
      subscriptionBuffer: 1024,
      subscribeAllBuffer: 4096,
      maxMessageSize: 52_428_800,
    });
    expect(c.dbUrl).toBeUndefined();
    expect(DEFAULT_CONFIG.httpPort).toBe(5555);
  });

  test("env vars apply; options (flags) win over them", () => {
    const env = {
      XMTP_HTTP_PORT: "7000",
      XMTP_GRPC_PORT: "7001",
      XMTP_DATA_DIR: "/d",
      XMTP_LOG_LEVEL: "debug",
      XMTP_AUTH: "false",
    };
    expect(resolveConfig({}, env)).toMatchObject({
      httpPort: 7000,
      grpcPort: 7001,
      dataDir: "/d",
      logLevel: "debug",
      auth: false,
    });
    expect(resolveConfig({ httpPort: "8000", auth: true }, env)).toMatchObject({
      httpPort: 8000,
      grpcPort: 7001,
      auth: true,
    });
    expect(resolveConfig({ httpPort: 0, grpcPort: 0 }, {})).toMatchObject({ httpPort: 0, grpcPort: 0 });
  });

  test("the p2p port is unset unless a flag or XMTP_P2P_PORT gives one (then the default applies at start)", () => {
    expect(resolveConfig({}, {}).p2pPort).toBeUndefined();
    expect(resolveConfig({ p2pPort: "60000" }, {}).p2pPort).toBe(60000);
    expect(resolveConfig({}, { XMTP_P2P_PORT: "0" }).p2pPort).toBe(0);
    expect(DEFAULT_P2P_PORT).toBe(60000);
  });

  test("trusted proxies: a list of IP addresses from flags or XMTP_TRUSTED_PROXIES", () => {
    expect(resolveConfig({}, {}).trustedProxies).toEqual([]);
    expect(resolveConfig({}, { XMTP_TRUSTED_PROXIES: "10.0.0.1, ::1" }).trustedProxies).toEqual([
      "10.0.0.1",
      "::1",
    ]);
    expect(() => resolveConfig({ trustedProxies: ["10.0.0.0/8"] }, {})).toThrow(
      'invalid --trusted-proxy (XMTP_TRUSTED_PROXIES): "10.0.0.0/8" is not an IP address',
    );
  });

  test("retention: off by default; durations in s, m, h or d", () => {
    expect(resolveConfig({}, {}).retentionMs).toBeUndefined();
    expect(resolveConfig({ retentionMs: "1d" }, {}).retentionMs).toBe(86_400_000);
    expect(resolveConfig({}, { XMTP_RETENTION: "90m" }).retentionMs).toBe(5_400_000);
    expect(resolveConfig({}, { XMTP_RETENTION: "3600s" }).retentionMs).toBe(3_600_000);
    for (const bad of ["1", "10s", "5w", "-1d", "999999999d"])
      expect(() => resolveConfig({ retentionMs: bad }, {})).toThrow(
        `invalid --retention (XMTP_RETENTION): "${bad}" is not a duration`,
      );
  });

  test("bad values throw ConfigError naming the flag and the variable", () => {
    const bad: Array<[Parameters<typeof resolveConfig>[0], Record<string, string>, RegExp]> = [
      [
        { httpPort: "abc" },
        {},
        /^invalid --http-port \(XMTP_HTTP_PORT\): "abc" is not an integer in 0\.\.65535$/,
      ],
      [{}, { XMTP_GRPC_PORT: "65536" }, /--grpc-port \(XMTP_GRPC_PORT\)/],
      [{ httpPort: "1.5" }, {}, /not an integer/],
      [{ logLevel: "loud" }, {}, /--log-level \(XMTP_LOG_LEVEL\): "loud"/],
      [{}, { XMTP_AUTH: "maybe" }, /--auth \(XMTP_AUTH\): "maybe" is not a boolean/],
      [{ httpPort: 6000, grpcPort: 6000 }, {}, /must differ/],
      [{ dbUrl: "mysql://x" }, {}, /postgres:\/\//],
      [{ dataDir: " " }, {}, /empty value/],
    ];
    for (const [options, env, message] of bad) {
      expect(() => resolveConfig(options, env)).toThrow(ConfigError);
      expect(() => resolveConfig(options, env)).toThrow(message);
    }
  });

  test("flagName", () => {
    expect(flagName("httpPort")).toBe("--http-port");
    expect(flagName("maxMessageSize")).toBe("--max-msg-size");
  });
});
