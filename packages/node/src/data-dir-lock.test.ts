import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { DataDirLockedError, LOCK_FILE, lockDataDir } from "./data-dir-lock.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), "xmtp-lock-"));
  dirs.push(d);
  return d;
};

describe("data dir lock", () => {
  test("writes the pid, refuses a second lock in the same process, and removes the file on release", () => {
    const d = dir();
    const lock = lockDataDir(d);
    expect(readFileSync(join(d, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
    expect(() => lockDataDir(d)).toThrow(DataDirLockedError);
    lock.release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    lockDataDir(d).release();
  });

  test("refuses a dir held by another live process, naming it", () => {
    const d = dir();
    // The parent process (the test runner) is alive and is not us.
    writeFileSync(join(d, LOCK_FILE), `${process.ppid}\n`);
    expect(() => lockDataDir(d)).toThrow(new RegExp(`in use by another node \\(pid ${process.ppid}\\)`));
    expect(readFileSync(join(d, LOCK_FILE), "utf8").trim()).toBe(String(process.ppid));
  });

  test("takes over a lock left by a process that is gone, or an unreadable one", () => {
    for (const content of ["2147483646\n", "", "garbage"]) {
      const d = dir();
      writeFileSync(join(d, LOCK_FILE), content);
      const lock = lockDataDir(d);
      expect(readFileSync(join(d, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
      lock.release();
    }
  });
});
