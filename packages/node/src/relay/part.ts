/**
 * The relay as a node part: `createNode(config, { parts: [relayPart()] })` joins the node to the
 * network described by `config` (p2p port, static peers, node key file).
 */
import { createServer } from "node:net";
import { join } from "node:path";
import type { Envelope } from "@xmtp-ts/proto";
import { DEFAULT_P2P_PORT } from "../config.js";
import { type NodeContext, type NodePart, PortInUseError } from "../node.js";
import { loadOrCreateNodeKey } from "./node-key.js";
import { createRelay, type Relay } from "./relay.js";

export interface RelayPartOptions {
  /** Called once the relay listens (e.g. to print the multiaddr). */
  onStarted?: ((relay: Relay) => void) | undefined;
}

/** The live relay of a node part, for health and tests. */
export interface RelayPart extends NodePart {
  readonly relay: Relay | undefined;
}

/** Builds the relay part factory for `createNode`'s `parts` option. */
export function relayPart(options: RelayPartOptions = {}): (ctx: NodeContext) => RelayPart {
  return (ctx) => {
    const { config, logger, metrics, store, api } = ctx;
    let relay: Relay | undefined;
    return {
      name: "relay",
      get relay() {
        return relay;
      },
      async start() {
        const nodeKey = await loadOrCreateNodeKey(config.nodeKeyFile ?? join(config.dataDir, "node-key"));
        let listenPort = config.p2pPort;
        if (listenPort === undefined) {
          listenPort = DEFAULT_P2P_PORT;
          if (!(await portFree(config.p2pHost, listenPort))) {
            logger.warn(
              { port: listenPort },
              "the default p2p port is in use: listening on a free port instead (choose one with --p2p-port)",
            );
            listenPort = 0;
          }
        }
        relay = await createRelay({
          listenPort,
          listenHost: config.p2pHost,
          peers: config.peers,
          nodeKey,
          store,
          onMessage: (envs) => api.ingest(envs),
          logger: logger.child({ part: "relay" }),
          metrics: metrics.registry,
          syncStateFile: join(config.dataDir, "sync-state.json"),
        });
        try {
          await relay.start();
        } catch (err) {
          // libp2p reports listen failures as one message; a bind probe tells a taken port apart.
          const port = listenPort;
          if (port !== 0 && !(await portFree(config.p2pHost, port))) {
            throw new PortInUseError("p2p", port, { cause: err });
          }
          throw err;
        }
        options.onStarted?.(relay);
      },
      async stop() {
        await relay?.stop();
      },
      broadcast(envelopes: Envelope[]) {
        // After the current turn, so the publish answer goes out before the gossip work.
        const r = relay;
        if (r === undefined) return;
        setImmediate(() => {
          r.broadcast(envelopes).catch((err: Error) => {
            r.stats().relayPublishFailed += envelopes.length;
            logger.error({ err: err.message, envelopes: envelopes.length }, "relay broadcast failed");
          });
        });
      },
      urls() {
        const addrs = relay?.multiaddrs() ?? [];
        // On a wildcard listener, prefer an address other hosts can dial.
        const best = addrs.find((a) => !/^\/ip[46]\/(127\.|::1\/)/.test(a)) ?? addrs[0];
        return best === undefined ? {} : { libp2p: best };
      },
      health() {
        if (relay === undefined) return { peers: 0 };
        return {
          peerId: relay.peerId(),
          peers: relay.peerCount(),
          meshPeers: relay.meshPeerCount(),
          staticPeers: config.peers.length,
          sync: relay.syncStatus(),
        };
      },
    };
  };
}

/** Whether a TCP listener could bind `host:port` right now (only "address in use" says no). */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code !== "EADDRINUSE"));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}
