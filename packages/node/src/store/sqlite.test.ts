import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteStore } from "./sqlite.js";
import { describeStoreCompliance } from "./store.compliance.js";

for (const groupCommit of [true, false]) {
  describeStoreCompliance(`sqlite${groupCommit ? "" : " (no group commit)"}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmtp-store-"));
    const path = join(dir, "store.db");
    const opened = [createSqliteStore({ path, groupCommit })];
    return {
      store: opened[0]!,
      reopen: () => {
        const s = createSqliteStore({ path, groupCommit });
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
