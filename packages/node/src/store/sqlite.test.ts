import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createSqliteStore } from "./sqlite.js";
import { describeStoreCompliance, makeEnvelope } from "./store.compliance.js";

for (const [groupCommit, writerThread] of [
  [true, true],
  [true, false],
  [false, false],
]) {
  const name = groupCommit ? (writerThread ? "" : " (group commit on this thread)") : " (no group commit)";
  describeStoreCompliance(`sqlite${name}`, async (opts) => {
    const dir = mkdtempSync(join(tmpdir(), "xmtp-store-"));
    const path = join(dir, "store.db");
    const opened = [createSqliteStore({ path, groupCommit, writerThread, now: opts?.now })];
    return {
      store: opened[0]!,
      reopen: () => {
        const s = createSqliteStore({ path, groupCommit, writerThread, now: opts?.now });
        opened.push(s);
        return s;
      },
      async cleanup() {
        for (const s of opened) await s.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

describe("sqlite store: rows and migrations", () => {
  const withDir = async (fn: (path: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), "xmtp-store-"));
    try {
      await fn(join(dir, "store.db"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("stores receiver time and should_expire beside each envelope (protocol.md §3.1)", () =>
    withDir(async (path) => {
      const store = createSqliteStore({ path, now: () => 123_456_789n });
      await store.start();
      await store.insert([makeEnvelope("/xmtp/0/keep/proto", 1n), makeEnvelope("/other/topic", 2n)]);
      await store.stop();
      const db = new Database(path, { readonly: true });
      db.defaultSafeIntegers(true);
      const rows = db
        .prepare("SELECT content_topic, receiver_ts, should_expire FROM envelopes ORDER BY content_topic")
        .all();
      db.close();
      expect(rows).toEqual([
        { content_topic: "/other/topic", receiver_ts: 123_456_789n, should_expire: 1n },
        { content_topic: "/xmtp/0/keep/proto", receiver_ts: 123_456_789n, should_expire: 0n },
      ]);
    }));

  it("a database from before the expiring index is upgraded in place, rows kept", () =>
    withDir(async (path) => {
      const first = createSqliteStore({ path, now: () => 1n });
      await first.start();
      await first.insert([makeEnvelope("/old/topic", 1n), makeEnvelope("/xmtp/0/keep/proto", 2n)]);
      await first.stop();
      const db = new Database(path);
      db.exec("DROP INDEX envelopes_expiring; DELETE FROM store_migrations WHERE version = 2;");
      db.close();
      const again = createSqliteStore({ path });
      await again.start();
      expect(await again.count()).toBe(2);
      expect(await again.deleteExpired(10n, 100)).toBe(1);
      await again.stop();
      const check = new Database(path);
      expect(
        check
          .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'envelopes_expiring'")
          .all(),
      ).toHaveLength(1);
      check.close();
    }));

  it("a database from before the receive order is upgraded in place: existing rows first, in insertion order", () =>
    withDir(async (path) => {
      const first = createSqliteStore({ path });
      await first.start();
      const old = [makeEnvelope("/xmtp/0/a/proto", 9n), makeEnvelope("/xmtp/0/b/proto", 1n)];
      for (const e of old) await first.insert([e]);
      await first.stop();
      const db = new Database(path);
      db.exec("DROP TABLE store_meta; DELETE FROM store_migrations WHERE version = 3;");
      db.close();
      const again = createSqliteStore({ path });
      await again.start();
      const fresh = makeEnvelope("/xmtp/0/c/proto", 5n);
      await again.insert([fresh]);
      const page = await again.receivedSince(undefined, { limit: 10, maxBytes: 1 << 20 });
      expect(page.envelopes.map((e) => e.contentTopic)).toEqual([...old, fresh].map((e) => e.contentTopic));
      await again.stop();
    }));

  it("records applied migrations and refuses a database from a newer version", () =>
    withDir(async (path) => {
      const store = createSqliteStore({ path });
      await store.start();
      await store.stop();
      const db = new Database(path);
      expect(db.prepare("SELECT version, name FROM store_migrations ORDER BY version").all()).toEqual([
        { version: 1, name: "envelopes" },
        { version: 2, name: "expiring index" },
        { version: 3, name: "receive order" },
      ]);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      db.prepare(
        "INSERT INTO store_migrations (version, name, applied_at_ns) VALUES (99, 'future', 0)",
      ).run();
      db.close();
      const again = createSqliteStore({ path });
      const err = await again.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(XmtpError);
      expect((err as XmtpError).code).toBe(Code.FailedPrecondition);
      await again.stop();
    }));
});
