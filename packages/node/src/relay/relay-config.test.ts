import { expect, test } from "vitest";
import { ConfigError, resolveConfig } from "../config.js";

test("relay settings: defaults, flags and env vars", () => {
  const d = resolveConfig({}, {});
  // Unset: 60000 when the relay starts, or a free port when 60000 is taken (see part.ts).
  expect(d.p2pPort).toBeUndefined();
  expect(d.p2pHost).toBe("0.0.0.0");
  expect(d.peers).toEqual([]);
  expect(d.nodeKeyFile).toBeUndefined();
  const peer = "/ip4/127.0.0.1/tcp/60001/p2p/16Uiu2HAmSvjW6eVYHXzZLiUpqk6J54KZhaGX6H6qjCsZitZZx3n5";
  const e = resolveConfig(
    {},
    {
      XMTP_P2P_PORT: "0",
      XMTP_PEERS: `${peer}, /dns4/node2/tcp/6001`,
      XMTP_NODE_KEY_FILE: "/k",
      XMTP_DB_SCHEMA: "net_1",
    },
  );
  expect(e.p2pPort).toBe(0);
  expect(e.peers).toEqual([peer, "/dns4/node2/tcp/6001"]);
  expect(e.nodeKeyFile).toBe("/k");
  expect(e.dbSchema).toBe("net_1");
  // Flags win over env; a repeated flag arrives as an array.
  expect(resolveConfig({ peers: [peer] }, { XMTP_PEERS: "/ip4/1.2.3.4/tcp/1" }).peers).toEqual([peer]);
});

test("relay settings: bad values are refused with the setting's name", () => {
  expect(() => resolveConfig({ p2pPort: "70000" }, {})).toThrow(/--p2p-port/);
  expect(() => resolveConfig({ peers: ["not-a-multiaddr"] }, {})).toThrow(ConfigError);
  expect(() => resolveConfig({ peers: ["/ip4/1.2.3.4/udp/1"] }, {})).toThrow(/--peer \(XMTP_PEERS\)/);
  expect(() => resolveConfig({ dbSchema: "x; drop table" }, {})).toThrow(/--db-schema/);
});
