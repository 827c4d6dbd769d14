import { mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import {
  configDir,
  DEFAULT_API,
  identityFile,
  loadIdentity,
  MAX_IDENTITY_FILE_BYTES,
  readKeyFile,
  removeIdentity,
  resolveApiUrl,
  type SavedIdentity,
  saveIdentity,
} from "./config.js";

const tmp = () => mkdtempSync(join(tmpdir(), "xmtp-config-test-"));
const KEY = `0x${"ab".repeat(32)}`;
const identity: SavedIdentity = {
  version: 1,
  address: "0x00000000000000000000000000000000000000aA",
  walletKey: KEY,
  xmtpKeys: "AAEC",
  apiUrl: "http://node:5555",
  createdAt: "2026-12-04T00:00:00.000Z",
};

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("where the config lives", () => {
  test("XMTP_CONFIG_DIR, then XDG_CONFIG_HOME/xmtp, then ~/.config/xmtp", () => {
    expect(configDir({ XMTP_CONFIG_DIR: "/a", XDG_CONFIG_HOME: "/b" })).toBe("/a");
    expect(configDir({ XDG_CONFIG_HOME: "/b" })).toBe("/b/xmtp");
    expect(configDir({})).toMatch(/\/\.config\/xmtp$/);
  });

  test("the node: --api, then XMTP_API_URL, then the saved one, then the default", () => {
    vi.stubEnv("XMTP_API_URL", "http://env");
    expect(resolveApiUrl("http://flag", identity)).toBe("http://flag");
    expect(resolveApiUrl(undefined, identity)).toBe("http://env");
    vi.stubEnv("XMTP_API_URL", undefined);
    expect(resolveApiUrl(undefined, identity)).toBe("http://node:5555");
    expect(resolveApiUrl(undefined, undefined)).toBe(DEFAULT_API);
    for (const bad of ["localhost:5555", "ftp://x", "nonsense"])
      expect(() => resolveApiUrl(bad, undefined)).toThrow(
        `the node must be an http(s) URL like ${DEFAULT_API}, not "${bad}"`,
      );
  });
});

describe("the identity file", () => {
  test("is written with mode 0600 in a 0700 directory and reads back", () => {
    const dir = join(tmp(), "nested");
    saveIdentity(identity, identityFile(dir));
    expect(statSync(identityFile(dir)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(["identity.json"]); // no temporary file left
    expect(loadIdentity(identityFile(dir))).toEqual(identity);
  });

  test("none yet: undefined; removing it removes the cache too", () => {
    const dir = tmp();
    expect(loadIdentity(identityFile(dir))).toBeUndefined();
    expect(removeIdentity(dir)).toBe(false);
    saveIdentity(identity, identityFile(dir));
    expect(removeIdentity(dir)).toBe(true);
    expect(loadIdentity(identityFile(dir))).toBeUndefined();
  });

  test("a damaged file is a clear error and is left as it is", () => {
    const file = join(tmp(), "identity.json");
    for (const [content, why] of [
      ["{not json", "not JSON"],
      ["[]", "unknown version"],
      [JSON.stringify({ ...identity, version: 2 }), "unknown version 2"],
      [JSON.stringify({ ...identity, address: "0x12" }), "bad address"],
      [JSON.stringify({ ...identity, walletKey: "zz" }), "bad walletKey"],
      [JSON.stringify({ ...identity, xmtpKeys: 5 }), "bad xmtpKeys"],
    ] as const) {
      writeFileSync(file, content, { mode: 0o600 });
      expect(() => loadIdentity(file)).toThrow(`the identity file ${file} is damaged (${why}`);
    }
    writeFileSync(file, " ".repeat(MAX_IDENTITY_FILE_BYTES + 1), { mode: 0o600 });
    expect(() => loadIdentity(file)).toThrow("is too large");
  });

  test("a file others can read still works, with a warning", () => {
    const file = join(tmp(), "identity.json");
    writeFileSync(file, JSON.stringify(identity), { mode: 0o644 });
    const warn = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(loadIdentity(file)).toEqual(identity);
    expect(String(warn.mock.calls[0]?.[0])).toContain(`warning: ${file} is readable by other users`);
  });
});

describe("key files", () => {
  test("hex with or without 0x, or the JSON of `xmtp identity`", () => {
    const dir = tmp();
    const cases = [`${KEY}\n`, KEY.slice(2).toUpperCase(), JSON.stringify({ key: KEY, address: "0x1" })];
    for (const [i, text] of cases.entries()) {
      writeFileSync(join(dir, `k${i}`), text);
      expect(readKeyFile(join(dir, `k${i}`))).toBe(KEY);
    }
  });

  test("anything else is refused with the file named", () => {
    const dir = tmp();
    for (const text of ["", "0x1234", "{}", '{"key": 5}', "{oops", `${KEY}00`]) {
      writeFileSync(join(dir, "k"), text);
      expect(() => readKeyFile(join(dir, "k"))).toThrow(`the key file ${join(dir, "k")} holds no wallet key`);
    }
    expect(() => readKeyFile(join(dir, "missing"))).toThrow("does not exist");
    writeFileSync(join(dir, "big"), "0".repeat(MAX_IDENTITY_FILE_BYTES + 1));
    expect(() => readKeyFile(join(dir, "big"))).toThrow("is too large");
  });
});
