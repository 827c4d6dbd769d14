import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { afterEach, expect, test } from "vitest";
import { loadOrCreateNodeKey, parseNodeKey } from "./node-key.js";
import { removeDir, tempDir } from "./test-support.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

test("creates a 0600 key file once and reads the same key back", async () => {
  const dir = tempDir();
  dirs.push(dir);
  const file = join(dir, "sub", "node-key");
  const k1 = await loadOrCreateNodeKey(file);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const k2 = await loadOrCreateNodeKey(file);
  expect(k1.type).toBe("secp256k1");
  expect(Buffer.from(k2.raw).equals(Buffer.from(k1.raw))).toBe(true);
  expect(peerIdFromPrivateKey(k1 as never).toString()).toMatch(/^16Uiu2/);
});

test("accepts the go-waku hex form and refuses anything else", () => {
  const hex = "1122334455667788990011223344556677889900112233445566778899001122";
  expect(Buffer.from(parseNodeKey(`0x${hex}\n`).raw).toString("hex")).toBe(hex);
  expect(() => parseNodeKey("abcd")).toThrow(/64 hex/);
  expect(() => parseNodeKey("zz".repeat(32))).toThrow(/64 hex/);
  expect(() => parseNodeKey("00".repeat(32))).toThrow(/not a valid secp256k1/);
  expect(() => parseNodeKey("ff".repeat(32))).toThrow(/not a valid secp256k1/);
});

test("a corrupt key file is an error, not silently replaced", async () => {
  const dir = tempDir();
  dirs.push(dir);
  const file = join(dir, "node-key");
  writeFileSync(file, "garbage");
  await expect(loadOrCreateNodeKey(file)).rejects.toThrow(/node key/);
});
