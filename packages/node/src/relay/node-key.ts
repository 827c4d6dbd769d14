/**
 * The node's libp2p identity: a secp256k1 private key kept in a file as 64 hex characters (the
 * go-waku `--nodekey` form), so the peer id (`16Uiu2…`) survives restarts.
 */
import { chmod, mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { generateKeyPair, privateKeyFromRaw } from "@libp2p/crypto/keys";

type PrivateKey = ReturnType<typeof privateKeyFromRaw>;

/** Parses a hex secp256k1 node key (64 hex chars, optional 0x, surrounding whitespace ignored). */
export function parseNodeKey(text: string): PrivateKey {
  const hex = text.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error(`node key: expected 64 hex characters, got ${hex.length} characters`);
  }
  try {
    // 32 raw bytes are read as secp256k1; the constructor rejects 0 and values ≥ the curve order.
    return privateKeyFromRaw(Uint8Array.from(Buffer.from(hex, "hex")));
  } catch (err) {
    throw new Error(`node key: not a valid secp256k1 private key (${(err as Error).message})`);
  }
}

/** Creates a fresh random node key in hex form. */
export async function generateNodeKeyHex(): Promise<string> {
  const key = await generateKeyPair("secp256k1");
  return Buffer.from(key.raw).toString("hex");
}

/**
 * Reads the node key from `file`, creating it (mode 0600, parent directories as needed) when it
 * does not exist yet.
 */
export async function loadOrCreateNodeKey(file: string): Promise<PrivateKey> {
  try {
    return parseNodeKey(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(dirname(file), { recursive: true });
  const hex = await generateNodeKeyHex();
  try {
    // "wx" fails if another process created the file meanwhile; then we read theirs.
    const fh = await open(file, "wx", 0o600);
    try {
      await fh.writeFile(`${hex}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return parseNodeKey(await readFile(file, "utf8"));
}
