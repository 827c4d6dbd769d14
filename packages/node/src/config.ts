/**
 * The node's one typed configuration. Values come, in order of precedence, from explicit options
 * (CLI flags), `XMTP_*` environment variables, then defaults.
 */
import { isIP } from "node:net";
import { LOG_LEVELS, type LogLevel } from "./logger.js";

export interface NodeConfig {
  /** Interface both listeners bind to. Env `XMTP_HOST`; default `0.0.0.0`. */
  host: string;
  /** HTTP/JSON gateway, Connect/gRPC-Web, /healthz, /metrics. Env `XMTP_HTTP_PORT`; default 5555; 0 = any free port. */
  httpPort: number;
  /** gRPC (h2c). Env `XMTP_GRPC_PORT`; default 5556; 0 = any free port. */
  grpcPort: number;
  /** Where the SQLite database lives. Env `XMTP_DATA_DIR`; default `./data`. */
  dataDir: string;
  /** A database URL (`postgres://…`); when set it replaces the SQLite store. Env `XMTP_DB_URL`. */
  dbUrl: string | undefined;
  /** PostgreSQL schema holding the tables (created if missing). Env `XMTP_DB_SCHEMA`; default `public`. */
  dbSchema: string | undefined;
  /**
   * libp2p TCP port of the Waku relay. Env `XMTP_P2P_PORT`; 0 = any free port. Unset (undefined)
   * means {@link DEFAULT_P2P_PORT}, or any free port when that one is taken (a second node on the
   * same host still starts); a port that was set and is taken is an error.
   */
  p2pPort: number | undefined;
  /** Interface libp2p listens on. Env `XMTP_P2P_HOST`; default `0.0.0.0`. */
  p2pHost: string;
  /** Static peers (multiaddrs), dialled at start and redialled when lost. Env `XMTP_PEERS` (comma-separated). */
  peers: string[];
  /** secp256k1 node key file (hex), created if missing. Env `XMTP_NODE_KEY_FILE`; default `<data-dir>/node-key`. */
  nodeKeyFile: string | undefined;
  /** Env `XMTP_LOG_LEVEL`; default `info`. */
  logLevel: LogLevel;
  /** Require a bearer token on Publish. Env `XMTP_AUTH` (`false` disables); default true. */
  auth: boolean;
  /** Per-client rate limits (protocol.md §4.6). Env `XMTP_RATE_LIMITS`; default false. */
  rateLimits: boolean;
  /**
   * Reverse proxies (IP addresses) whose `X-Forwarded-For` names the client for rate limiting.
   * Env `XMTP_TRUSTED_PROXIES` (comma-separated); default none: the socket address counts.
   */
  trustedProxies: string[];
  /** Envelopes buffered per subscription before it is ended with an error. Env `XMTP_SUBSCRIPTION_BUFFER`; default 1024. */
  subscriptionBuffer: number;
  /** Buffer for subscribe-all streams. Env `XMTP_SUBSCRIBE_ALL_BUFFER`; default 4096. */
  subscribeAllBuffer: number;
  /** Largest accepted request body / gRPC message in bytes. Env `XMTP_MAX_MSG_SIZE`; default 50 MiB. */
  maxMessageSize: number;
  /** Interval of HTTP/2 keepalive pings on idle gRPC connections (ms). Env `XMTP_GRPC_KEEPALIVE_MS`; default 5 min. */
  grpcKeepaliveMs: number;
  /**
   * Retention of envelopes on topics outside `/xmtp/` (ms, by receive time); undefined = keep
   * everything (the default, as the reference). Env `XMTP_RETENTION`; `30m`, `12h`, `1d`, …
   */
  retentionMs: number | undefined;
  /** Serve the web chat app at `/` on the HTTP port. Env `XMTP_WEB` (`false` turns it off); default true. */
  web: boolean;
}

const DURATION_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The relay's usual libp2p port (go-waku's default). */
export const DEFAULT_P2P_PORT = 60000;

export const DEFAULT_CONFIG: NodeConfig = {
  host: "0.0.0.0",
  httpPort: 5555,
  grpcPort: 5556,
  dataDir: "./data",
  dbUrl: undefined,
  dbSchema: undefined,
  p2pPort: undefined,
  p2pHost: "0.0.0.0",
  peers: [],
  nodeKeyFile: undefined,
  logLevel: "info",
  auth: true,
  rateLimits: false,
  trustedProxies: [],
  subscriptionBuffer: 1024,
  subscribeAllBuffer: 4096,
  maxMessageSize: 50 * 1024 * 1024,
  grpcKeepaliveMs: 5 * 60_000,
  retentionMs: undefined,
  web: true,
};

/** A bad configuration value; the message is one line meant for a person. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Environment variable for each setting. */
export const ENV_VARS: { readonly [K in keyof NodeConfig]: string } = {
  host: "XMTP_HOST",
  httpPort: "XMTP_HTTP_PORT",
  grpcPort: "XMTP_GRPC_PORT",
  dataDir: "XMTP_DATA_DIR",
  dbUrl: "XMTP_DB_URL",
  dbSchema: "XMTP_DB_SCHEMA",
  p2pPort: "XMTP_P2P_PORT",
  p2pHost: "XMTP_P2P_HOST",
  peers: "XMTP_PEERS",
  nodeKeyFile: "XMTP_NODE_KEY_FILE",
  logLevel: "XMTP_LOG_LEVEL",
  auth: "XMTP_AUTH",
  rateLimits: "XMTP_RATE_LIMITS",
  trustedProxies: "XMTP_TRUSTED_PROXIES",
  subscriptionBuffer: "XMTP_SUBSCRIPTION_BUFFER",
  subscribeAllBuffer: "XMTP_SUBSCRIBE_ALL_BUFFER",
  maxMessageSize: "XMTP_MAX_MSG_SIZE",
  grpcKeepaliveMs: "XMTP_GRPC_KEEPALIVE_MS",
  retentionMs: "XMTP_RETENTION",
  web: "XMTP_WEB",
};

type Input = { [K in keyof NodeConfig]?: NodeConfig[K] | string | undefined };

/**
 * Builds a validated config from options (strings are parsed as from a flag), environment
 * variables and defaults. Throws ConfigError naming the bad setting.
 */
export function resolveConfig(options: Input = {}, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const pick = <K extends keyof NodeConfig>(key: K): NodeConfig[K] | string | undefined => {
    const v = options[key];
    if (v !== undefined) return v;
    const e = env[ENV_VARS[key]];
    return e === undefined || e === "" ? undefined : e;
  };
  const label = (key: keyof NodeConfig) => `${flagName(key)} (${ENV_VARS[key]})`;

  const int = (key: keyof NodeConfig, min: number, max: number): number => {
    const v = pick(key);
    if (v === undefined) return DEFAULT_CONFIG[key] as number;
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(String(v)) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`invalid ${label(key)}: "${String(v)}" is not an integer in ${min}..${max}`);
    }
    return n;
  };
  const bool = (key: keyof NodeConfig): boolean => {
    const v = pick(key);
    if (v === undefined) return DEFAULT_CONFIG[key] as boolean;
    if (typeof v === "boolean") return v;
    const s = String(v).trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
    throw new ConfigError(`invalid ${label(key)}: "${String(v)}" is not a boolean`);
  };
  const str = (key: keyof NodeConfig): string | undefined => {
    const v = pick(key);
    if (v === undefined) return DEFAULT_CONFIG[key] as string | undefined;
    if (typeof v !== "string" || v.trim() === "") throw new ConfigError(`invalid ${label(key)}: empty value`);
    return v;
  };
  /** A list from an array option or a comma-separated string (flag or env). */
  const list = (key: keyof NodeConfig): string[] => {
    const v = pick(key);
    if (v === undefined) return [...(DEFAULT_CONFIG[key] as string[])];
    const items = Array.isArray(v) ? v : String(v).split(",");
    return items.map((x) => String(x).trim()).filter((x) => x !== "");
  };

  /** `90s`, `30m`, `12h`, `7d` (at least a minute, at most ten years); unset = undefined. */
  const duration = (key: keyof NodeConfig): number | undefined => {
    const v = pick(key);
    if (v === undefined) return undefined;
    const m = /^\s*(\d{1,9})\s*(s|m|h|d)\s*$/.exec(String(v));
    const ms = m ? Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS] : Number.NaN;
    if (!(ms >= 60_000 && ms <= 10 * 365 * 86_400_000))
      throw new ConfigError(
        `invalid ${label(key)}: "${String(v)}" is not a duration like 30m, 12h or 7d (1 minute to 10 years)`,
      );
    return ms;
  };

  const logLevel = str("logLevel") as string;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(
      `invalid ${label("logLevel")}: "${logLevel}" (expected one of ${LOG_LEVELS.join(", ")})`,
    );
  }
  const config: NodeConfig = {
    host: str("host") as string,
    httpPort: int("httpPort", 0, 65535),
    grpcPort: int("grpcPort", 0, 65535),
    dataDir: str("dataDir") as string,
    dbUrl: str("dbUrl"),
    dbSchema: str("dbSchema"),
    p2pPort: pick("p2pPort") === undefined ? undefined : int("p2pPort", 0, 65535),
    p2pHost: str("p2pHost") as string,
    peers: list("peers"),
    nodeKeyFile: str("nodeKeyFile"),
    logLevel: logLevel as LogLevel,
    auth: bool("auth"),
    rateLimits: bool("rateLimits"),
    trustedProxies: list("trustedProxies"),
    subscriptionBuffer: int("subscriptionBuffer", 1, 1 << 24),
    subscribeAllBuffer: int("subscribeAllBuffer", 1, 1 << 24),
    maxMessageSize: int("maxMessageSize", 1024, 2 ** 31 - 1),
    grpcKeepaliveMs: int("grpcKeepaliveMs", 1000, 2 ** 31 - 1),
    retentionMs: duration("retentionMs"),
    web: bool("web"),
  };
  if (config.httpPort !== 0 && config.httpPort === config.grpcPort) {
    throw new ConfigError(`--http-port and --grpc-port must differ (both ${config.httpPort})`);
  }
  if (config.dbSchema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(config.dbSchema)) {
    throw new ConfigError(`invalid ${label("dbSchema")}: "${config.dbSchema}" is not a plain SQL identifier`);
  }
  for (const proxy of config.trustedProxies) {
    if (isIP(proxy) === 0)
      throw new ConfigError(`invalid ${label("trustedProxies")}: "${proxy}" is not an IP address`);
  }
  for (const peer of config.peers) {
    if (!/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+\/tcp\/\d+(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/.test(peer)) {
      throw new ConfigError(
        `invalid --peer (${ENV_VARS.peers}): "${peer}" is not a TCP multiaddr like /ip4/10.0.0.2/tcp/60000/p2p/16Uiu2…`,
      );
    }
  }
  if (config.dbUrl !== undefined && !/^postgres(ql)?:\/\//.test(config.dbUrl)) {
    throw new ConfigError(`invalid ${label("dbUrl")}: expected a postgres:// URL`);
  }
  return config;
}

/** CLI flags whose names are not the kebab-case of their setting. */
const FLAG_NAMES: Record<string, string> = {
  maxMessageSize: "--max-msg-size",
  peers: "--peer",
  trustedProxies: "--trusted-proxy",
  retentionMs: "--retention",
};

/** `httpPort` → `--http-port` (the `xmtp node` flag of a setting). */
export function flagName(key: string): string {
  return FLAG_NAMES[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
