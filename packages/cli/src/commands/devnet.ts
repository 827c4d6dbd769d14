/**
 * `xmtp devnet --nodes N`: a local N-node network in one process for app developers' tests.
 * Each node has its own SQLite store (in a temp dir, or `--data-dir`), random free ports on
 * loopback, and joins the others over the Waku relay in a line or a full mesh.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  createLogger,
  createNode,
  LOG_LEVELS,
  type LogLevel,
  type RelayPart,
  relayPart,
  resolveConfig,
  type XmtpNode,
} from "@xmtp-ts/node";
import { type Command, InvalidArgumentError, Option } from "commander";

export type DevnetTopology = "line" | "mesh";

export interface DevnetOptions {
  /** Number of nodes (1…32). */
  nodes: number;
  /** Keep the nodes' data here (node1…nodeN); a temp dir removed on stop when absent. */
  dataDir?: string | undefined;
  /** `line`: node i peers with node i−1; `mesh`: with every earlier node. */
  topology?: DevnetTopology | undefined;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string | undefined;
  /** Require auth tokens on Publish (default true, as in production). */
  auth?: boolean | undefined;
  logLevel?: LogLevel | undefined;
}

export interface DevnetNode {
  name: string;
  /** HTTP/JSON gateway: the `apiUrl` for clients. */
  apiUrl: string;
  grpcUrl: string;
  /** libp2p multiaddr with `/p2p/<peer id>`. */
  multiaddr: string;
  dataDir: string;
  node: XmtpNode;
}

export interface Devnet {
  nodes: DevnetNode[];
  dataDir: string;
  /** Stops every node (and removes the temp dir if one was created). Idempotent. */
  stop(): Promise<void>;
}

export const MAX_DEVNET_NODES = 32;

/** Starts the network; every node is listening and dialling its peers when this resolves. */
export async function startDevnet(opts: DevnetOptions): Promise<Devnet> {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_DEVNET_NODES) {
    throw new Error(`--nodes must be an integer in 1..${MAX_DEVNET_NODES}, got ${opts.nodes}`);
  }
  const temp = opts.dataDir === undefined;
  const root = temp ? mkdtempSync(join(tmpdir(), "xmtp-devnet-")) : resolve(opts.dataDir as string);
  mkdirSync(root, { recursive: true });
  const host = opts.host ?? "127.0.0.1";
  const level = opts.logLevel ?? "warn";
  const nodes: DevnetNode[] = [];
  let stopped: Promise<void> | undefined;

  const stop = () => {
    stopped ??= (async () => {
      for (const n of [...nodes].reverse()) await n.node.stop().catch(() => undefined);
      if (temp) rmSync(root, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    for (let i = 1; i <= opts.nodes; i++) {
      const name = `node${i}`;
      const earlier = nodes.map((n) => n.multiaddr);
      const peers = (opts.topology ?? "line") === "mesh" ? earlier : earlier.slice(-1);
      const dataDir = join(root, name);
      // Env vars are ignored on purpose: a devnet must not pick up a production node's settings.
      const config = resolveConfig(
        {
          host,
          httpPort: 0,
          grpcPort: 0,
          p2pPort: 0,
          p2pHost: host,
          dataDir,
          peers,
          auth: opts.auth ?? true,
          logLevel: level,
        },
        {},
      );
      let relay: RelayPart | undefined;
      const makeRelay = relayPart();
      const node = createNode(config, {
        logger: createLogger(level).child({ node: name }),
        parts: [
          (ctx) => {
            relay = makeRelay(ctx);
            return relay;
          },
        ],
      });
      await node.start();
      const addrs = relay?.relay?.multiaddrs() ?? [];
      nodes.push({
        name,
        apiUrl: node.urls.http,
        grpcUrl: node.urls.grpc,
        multiaddr: addrs.find((a) => a.includes(`/ip4/${host}/`)) ?? addrs[0] ?? "",
        dataDir,
        node,
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, dataDir: root, stop };
}

const positiveInt = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("not a positive integer");
  return Number(v);
};

/** Adds `xmtp devnet` to the program. */
export function registerDevnetCommand(program: Command): Command {
  return program
    .command("devnet")
    .description("Run a local network of N nodes (embedded stores, random free ports) until Ctrl-C")
    .addOption(new Option("--nodes <n>", "number of nodes").default(3).argParser(positiveInt))
    .addOption(
      new Option("--topology <shape>", "how nodes join: each to the previous one, or all to all")
        .choices(["line", "mesh"])
        .default("line"),
    )
    .addOption(new Option("--data-dir <dir>", "keep node data here (default: a temp dir removed on exit)"))
    .addOption(new Option("--host <host>", "interface to listen on").default("127.0.0.1"))
    .addOption(new Option("--no-auth", "accept Publish without an auth token"))
    .addOption(new Option("--log-level <level>", "log level").choices(LOG_LEVELS as string[]).default("warn"))
    .addOption(new Option("--json", "print one JSON line describing the nodes instead of a table"))
    .action(async (opts: Record<string, unknown>) => {
      const devnet = await startDevnet({
        nodes: opts.nodes as number,
        dataDir: opts.dataDir as string | undefined,
        topology: opts.topology as DevnetTopology,
        host: opts.host as string,
        auth: opts.auth as boolean,
        logLevel: opts.logLevel as LogLevel,
      });
      if (opts.json === true) {
        const nodes = devnet.nodes.map(({ name, apiUrl, grpcUrl, multiaddr, dataDir }) => ({
          name,
          apiUrl,
          grpcUrl,
          multiaddr,
          dataDir,
        }));
        process.stdout.write(`${JSON.stringify({ dataDir: devnet.dataDir, nodes })}\n`);
      } else {
        process.stdout.write(
          [
            `XMTP devnet: ${devnet.nodes.length} node(s), ${opts.topology as string}, data in ${devnet.dataDir}`,
            ...devnet.nodes.map(
              (n) => `  ${n.name.padEnd(7)} ${n.apiUrl}  gRPC ${n.grpcUrl}  ${n.multiaddr}`,
            ),
            "Ctrl-C stops all nodes.",
            "",
          ].join("\n"),
        );
      }
      let stopping = false;
      const shutdown = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
          process.exit(1);
        }
        stopping = true;
        process.stdout.write(`${signal}: stopping ${devnet.nodes.length} node(s)\n`);
        devnet.stop().then(
          () => {
            process.stdout.write("devnet stopped\n");
            process.exit(0);
          },
          (err: unknown) => {
            process.stderr.write(
              `error during shutdown: ${err instanceof Error ? err.message : String(err)}\n`,
            );
            process.exit(1);
          },
        );
      };
      process.once("SIGINT", shutdown);
      process.once("SIGTERM", shutdown);
    });
}
