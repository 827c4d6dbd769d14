import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { fileConversationStore } from "./session.js";

describe("the conversation cache in files", () => {
  test("round-trips bytes in a 0600 file named after the key; a missing key reads undefined", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "xmtp-store-test-")), "cache");
    const store = fileConversationStore(dir);
    expect(await store.get("xmtp-ts/conversations/v1/0xAb")).toBeUndefined();
    await store.set("xmtp-ts/conversations/v1/0xAb", new Uint8Array([1, 2, 3]));
    await store.set("xmtp-ts/conversations/v1/0xAb", new Uint8Array([4, 5]));
    expect(await store.get("xmtp-ts/conversations/v1/0xAb")).toEqual(new Uint8Array([4, 5]));
    expect(readdirSync(dir)).toEqual(["xmtp-ts_conversations_v1_0xAb"]); // no temporary file left
    expect(statSync(join(dir, "xmtp-ts_conversations_v1_0xAb")).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  test("a key cannot name a file outside the directory", async () => {
    const root = mkdtempSync(join(tmpdir(), "xmtp-store-test-"));
    const store = fileConversationStore(join(root, "cache"));
    await store.set("../../escape", new Uint8Array([1]));
    expect(readdirSync(root)).toEqual(["cache"]);
    expect(readdirSync(join(root, "cache"))).toEqual([".._.._escape"]);
  });
});
