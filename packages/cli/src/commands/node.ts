/** `xmtp node`: run a network node until SIGINT/SIGTERM. */
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import {
  ConfigError,
  createNode,
  DataDirLockedError,
  ENV_VARS,
  LOG_LEVELS,
  type NodeConfig,
  PortInUseError,
  relayPart,
  resolveConfig,
  webPart,
  type XmtpNode,
} from "@xmtp-ts/node";
import { type Command, Option } from "commander";

const env = (key: keyof NodeConfig) => `env ${ENV_VARS[key]}`;

/** Adds `xmtp node` to the program. */
export function registerNodeCommand(program: Command): Command {
  return program
    .command("node")
    .description("Run an XMTP V2 network node (HTTP/JSON gateway, gRPC, embedded store)")
    .addOption(new Option("--http-port <port>", `HTTP/JSON gateway port (default 5555, ${env("httpPort")})`))
    .addOption(new Option("--grpc-port <port>", `gRPC port (default 5556, ${env("grpcPort")})`))
    .addOption(
      new Option("--data-dir <dir>", `directory of the SQLite store (default ./data, ${env("dataDir")})`),
    )
    .addOption(
      new Option("--log-level <level>", `log level (default info, ${env("logLevel")})`).choices(
        LOG_LEVELS as string[],
      ),
    )
    .addOption(new Option("--host <host>", `interface to listen on (default 0.0.0.0, ${env("host")})`))
    .addOption(new Option("--db-url <url>", `PostgreSQL URL; replaces the SQLite store (${env("dbUrl")})`))
    .addOption(
      new Option(
        "--db-schema <name>",
        `PostgreSQL schema for the tables (default public, ${env("dbSchema")})`,
      ),
    )
    .addOption(
      new Option(
        "--p2p-port <port>",
        `libp2p port of the Waku relay (default 60000, or any free port when 60000 is taken; 0 = any, ${env("p2pPort")})`,
      ),
    )
    .addOption(
      new Option("--p2p-host <host>", `interface libp2p listens on (default 0.0.0.0, ${env("p2pHost")})`),
    )
    .addOption(
      new Option(
        "--peer <multiaddr>",
        `static peer, repeatable; redialled when lost (${env("peers")}, comma-separated)`,
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .addOption(
      new Option(
        "--node-key-file <file>",
        `secp256k1 node key (hex), created if missing (default <data-dir>/node-key, ${env("nodeKeyFile")})`,
      ),
    )
    .addOption(new Option("--no-auth", `accept Publish without an auth token (${env("auth")}=false)`))
    .addOption(new Option("--no-web", `do not serve the web chat app at / (${env("web")}=false)`))
    .addOption(new Option("--rate-limits", `enable per-client rate limits (${env("rateLimits")}=true)`))
    .addOption(
      new Option(
        "--trusted-proxy <ip>",
        `reverse proxy whose X-Forwarded-For names the client for rate limits; repeatable (${env("trustedProxies")}, comma-separated)`,
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .addOption(
      new Option(
        "--retention <duration>",
        `delete envelopes on topics outside /xmtp/ once received longer ago than this, e.g. 1d (default: keep, ${env("retentionMs")})`,
      ),
    )
    .addOption(
      new Option(
        "--max-msg-size <bytes>",
        `largest accepted request (default 52428800, ${env("maxMessageSize")})`,
      ),
    )
    .action(async (opts: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
      const fromCli = (name: string) => (cmd.getOptionValueSource(name) === "cli" ? opts[name] : undefined);
      let config: NodeConfig;
      try {
        config = resolveConfig({
          httpPort: fromCli("httpPort") as string | undefined,
          grpcPort: fromCli("grpcPort") as string | undefined,
          dataDir: fromCli("dataDir") as string | undefined,
          logLevel: fromCli("logLevel") as string | undefined,
          host: fromCli("host") as string | undefined,
          dbUrl: fromCli("dbUrl") as string | undefined,
          dbSchema: fromCli("dbSchema") as string | undefined,
          p2pPort: fromCli("p2pPort") as string | undefined,
          p2pHost: fromCli("p2pHost") as string | undefined,
          peers: fromCli("peer") as string[] | undefined,
          nodeKeyFile: fromCli("nodeKeyFile") as string | undefined,
          auth: fromCli("auth") as boolean | undefined,
          web: fromCli("web") as boolean | undefined,
          rateLimits: fromCli("rateLimits") as boolean | undefined,
          trustedProxies: fromCli("trustedProxy") as string[] | undefined,
          retentionMs: fromCli("retention") as string | undefined,
          maxMessageSize: fromCli("maxMsgSize") as string | undefined,
        });
      } catch (err) {
        if (err instanceof ConfigError)
          cmd.error(`error: ${err.message}`, { exitCode: 2, code: "xmtp.config" });
        throw err;
      }
      await runNode(config);
    });
}

/** The built web app of the workspace package `@xmtp-ts/web`, when it is installed. */
function webAppDir(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@xmtp-ts/web/package.json")), "dist");
  } catch {
    return undefined;
  }
}

/** Starts the node, prints where it listens, and stops it cleanly on SIGINT/SIGTERM. */
export async function runNode(config: NodeConfig): Promise<XmtpNode> {
  const node = createNode(config, {
    parts: [relayPart(), webPart({ appDir: webAppDir(), serveApp: config.web })],
  });
  try {
    await node.start();
  } catch (err) {
    await node.stop().catch(() => undefined);
    if (err instanceof PortInUseError) {
      const flag = { HTTP: "http", gRPC: "grpc", p2p: "p2p" }[err.listener];
      process.stderr.write(`error: ${err.message} (choose another with --${flag}-port)\n`);
      process.exit(1);
    }
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(1);
    }
    const text = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: the node could not start: ${text.split("\n")[0]}\n`);
    process.exit(1);
  }
  const store = config.dbUrl === undefined ? `SQLite in ${resolve(config.dataDir)}` : "PostgreSQL";
  process.stdout.write(
    [
      "XMTP node running",
      `  HTTP/JSON  ${node.urls.http}`,
      `  gRPC       ${node.urls.grpc}`,
      ...Object.entries(node.urls)
        .filter(([k]) => k !== "http" && k !== "grpc")
        .map(([k, v]) => `  ${k.padEnd(9)}  ${v}`),
      `  store      ${store}`,
      `  auth       ${config.auth ? "on" : "off"}`,
      `  web app    ${config.web ? `${node.urls.http}/` : "off"}`,
      "",
    ].join("\n"),
  );
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`${signal}: shutting down\n`);
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error during shutdown: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  return node;
}
