/** The file store on a real file system: round trips, atomic replacement, bounds, bad keys. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fileConversationStore } from "./stores.js";

const dir = () => join(mkdtempSync(join(tmpdir(), "xmtp-store-")), "nested", "dir");

describe("fileConversationStore", () => {
  it("creates its directory, reads back what it wrote, and undefined for a missing key", async () => {
    const d = dir();
    const store = fileConversationStore(d);
    expect(await store.get("xmtp-ts/conversations/v1/0xabc")).toBeUndefined();
    await store.set("xmtp-ts/conversations/v1/0xabc", new Uint8Array([1, 2, 3]));
    expect(await store.get("xmtp-ts/conversations/v1/0xabc")).toEqual(new Uint8Array([1, 2, 3]));
    // One file per key, named so that no key can leave the directory; no temporary files remain.
    expect(readdirSync(d)).toEqual([`${encodeURIComponent("xmtp-ts/conversations/v1/0xabc")}.bin`]);
    // Another store on the same directory (the next run) sees it.
    expect(await fileConversationStore(d).get("xmtp-ts/conversations/v1/0xabc")).toEqual(
      new Uint8Array([1, 2, 3]),
    );
  });

  it("keys of any text stay inside the directory and round-trip", async () => {
    const d = dir();
    const store = fileConversationStore(d);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.uint8Array({ maxLength: 64 }),
        async (k, v) => {
          await store.set(k, v);
          expect(await store.get(k)).toEqual(v);
        },
      ),
      { numRuns: 50 },
    );
    await store.set("../../escape", new Uint8Array([9]));
    expect(readdirSync(d)).toContain(`${encodeURIComponent("../../escape")}.bin`);
  });

  it("replaces a value whole: concurrent writes leave one of them, never a mix, and no temp files", async () => {
    const d = dir();
    const store = fileConversationStore(d);
    const a = new Uint8Array(256 * 1024).fill(0xaa);
    const b = new Uint8Array(256 * 1024).fill(0xbb);
    await Promise.all([store.set("k", a), store.set("k", b), store.set("k", a), store.set("k", b)]);
    const got = await store.get("k");
    expect([a, b]).toContainEqual(got);
    expect(readdirSync(d).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("a torn temporary file from an interrupted write does not affect the stored value", async () => {
    const d = dir();
    const store = fileConversationStore(d);
    await store.set("k", new Uint8Array([1, 2, 3]));
    const file = join(d, "k.bin");
    writeFileSync(`${file}.crashed.tmp`, new Uint8Array([7]));
    expect(await store.get("k")).toEqual(new Uint8Array([1, 2, 3]));
    await store.set("k", new Uint8Array([4]));
    expect(readFileSync(file)).toEqual(Buffer.from([4]));
  });

  it("refuses to read a value over maxBytes (a clear error, the file untouched)", async () => {
    const d = dir();
    await fileConversationStore(d).set("big", new Uint8Array(1025));
    const store = fileConversationStore(d, { maxBytes: 1024 });
    await expect(store.get("big")).rejects.toMatchObject({ code: "invalid-argument" });
    expect(await fileConversationStore(d).get("big")).toHaveLength(1025);
  });
});
