/**
 * The saved identity of the terminal client: one JSON file, readable only by its owner, holding
 * the wallet key, the XMTP keys exported after `xmtp login` (so later commands never sign again)
 * and the node it was made on. Only node:fs here: `xmtp whoami` must start fast.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const DEFAULT_API = "http://localhost:5555";

/** Larger identity or key files are refused (a real one is about 2 KiB). */
export const MAX_IDENTITY_FILE_BYTES = 64 * 1024;

export interface SavedIdentity {
  version: 1;
  /** EIP-55 wallet address. */
  address: string;
  /** The wallet private key, `0x` + 64 hex digits. */
  walletKey: string;
  /** The encoded private key bundle (`client.exportKeys()`), base64. */
  xmtpKeys: string;
  /** The node `xmtp login` used; later commands default to it. */
  apiUrl: string;
  createdAt: string;
}

/** `$XMTP_CONFIG_DIR`, else `$XDG_CONFIG_HOME/xmtp`, else `~/.config/xmtp`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XMTP_CONFIG_DIR) return env.XMTP_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, "xmtp");
  return join(homedir(), ".config", "xmtp");
}

export const identityFile = (dir = configDir()) => join(dir, "identity.json");
/** Encrypted conversation snapshots (see the client's `conversationStore`). */
export const cacheDir = (dir = configDir()) => join(dir, "cache");

/** A problem the user fixes (printed as one `error: …` line). */
export class UserError extends Error {
  override name = "UserError";
}

const HEX_KEY = /^(0x)?[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The file's text; undefined when it does not exist. */
function readBounded(file: string, what: string): string | undefined {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (size > MAX_IDENTITY_FILE_BYTES)
    throw new UserError(`${what} ${file} is too large (${size} bytes; at most ${MAX_IDENTITY_FILE_BYTES})`);
  return readFileSync(file, "utf8");
}

/** The saved identity, or undefined when there is none; a damaged file is an error (never overwritten). */
export function loadIdentity(file = identityFile()): SavedIdentity | undefined {
  const text = readBounded(file, "the identity file");
  if (text === undefined) return undefined;
  // Like ssh with a private key: say so when others may read it (the key is used all the same).
  if ((statSync(file).mode & 0o077) !== 0)
    process.stderr.write(`warning: ${file} is readable by other users; run \`chmod 600 ${file}\`\n`);
  const damaged = (why: string) =>
    new UserError(
      `the identity file ${file} is damaged (${why}); fix it or move it away and run \`xmtp login\``,
    );
  let v: Partial<Record<keyof SavedIdentity, unknown>>;
  try {
    v = JSON.parse(text);
  } catch {
    throw damaged("not JSON");
  }
  if (typeof v !== "object" || v === null) throw damaged("not an object");
  if (v.version !== 1) throw damaged(`unknown version ${JSON.stringify(v.version)}`);
  if (typeof v.address !== "string" || !ADDRESS.test(v.address)) throw damaged("bad address");
  if (typeof v.walletKey !== "string" || !HEX_KEY.test(v.walletKey)) throw damaged("bad walletKey");
  if (typeof v.xmtpKeys !== "string" || v.xmtpKeys.length === 0) throw damaged("bad xmtpKeys");
  if (typeof v.apiUrl !== "string") throw damaged("bad apiUrl");
  return {
    version: 1,
    address: v.address,
    walletKey: v.walletKey,
    xmtpKeys: v.xmtpKeys,
    apiUrl: v.apiUrl,
    createdAt: typeof v.createdAt === "string" ? v.createdAt : "",
  };
}

/**
 * Writes the identity with mode 0600 in a 0700 directory: to a temporary file first, then renamed
 * over, so a crash never leaves half a key behind.
 */
export function saveIdentity(id: SavedIdentity, file = identityFile()): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(id, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // a leftover temporary file keeps its old mode otherwise
  renameSync(tmp, file);
}

/** Deletes the saved identity and the cached conversations; false when there was none. */
export function removeIdentity(dir = configDir()): boolean {
  const file = identityFile(dir);
  const existed = loadIdentity(file) !== undefined;
  rmSync(file, { force: true });
  rmSync(cacheDir(dir), { recursive: true, force: true });
  return existed;
}

/**
 * A wallet key read from a file: 64 hex digits (with or without `0x`), or the JSON that
 * `xmtp identity` prints (`{"key": "0x…"}`). Returned as `0x` + lowercase hex.
 */
export function readKeyFile(file: string): string {
  const text = readBounded(file, "the key file")?.trim();
  if (text === undefined) throw new UserError(`the key file ${file} does not exist`);
  let key = text;
  if (text.startsWith("{")) {
    try {
      const j = JSON.parse(text) as { key?: unknown };
      key = typeof j.key === "string" ? j.key : "";
    } catch {
      key = "";
    }
  }
  if (!HEX_KEY.test(key))
    throw new UserError(`the key file ${file} holds no wallet key (64 hex digits, or {"key": "0x…"})`);
  return `0x${key.replace(/^0x/, "").toLowerCase()}`;
}

/** The node to use: `--api`, else `XMTP_API_URL`, else the one of the saved identity, else the default. */
export function resolveApiUrl(flag: string | undefined, saved: SavedIdentity | undefined): string {
  const url = flag ?? process.env.XMTP_API_URL ?? saved?.apiUrl ?? DEFAULT_API;
  let ok = false;
  try {
    ok = /^https?:$/.test(new URL(url).protocol);
  } catch {
    // not a URL
  }
  if (!ok)
    throw new UserError(`the node must be an http(s) URL like ${DEFAULT_API}, not ${JSON.stringify(url)}`);
  return url;
}
