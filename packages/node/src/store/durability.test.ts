/**
 * Durability under process kill: a child process acknowledges envelopes only after `insert()`
 * resolved; after SIGKILL every acknowledged envelope must be in the store.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "./postgres.js";
import { createSqliteStore } from "./sqlite.js";
import { dropSchema, TEST_DATABASE_URL } from "./test-postgres.js";
import type { Store } from "./types.js";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
let childJs = "";

beforeAll(async () => {
  // Bundle the TypeScript child so it runs under plain node; native/driver packages stay external
  // and resolve from the repository's node_modules.
  const dir = join(repoRoot, "node_modules", ".cache", "xmtp-store-durability");
  mkdirSync(dir, { recursive: true });
  childJs = join(dir, `child-${randomBytes(6).toString("hex")}.mjs`);
  await build({
    entryPoints: [fileURLToPath(new URL("./test-durability-child.ts", import.meta.url))],
    outfile: childJs,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["source"],
    external: ["better-sqlite3", "postgres"],
    logLevel: "error",
  });
});

afterAll(() => rmSync(childJs, { force: true }));

interface Acked {
  topic: string;
  key: string;
}

/**
 * Runs the child until it has acknowledged `minAcks` envelopes (bounded wait), then SIGKILLs it.
 * Lines still in the pipe after the kill count too: they are the newest acknowledgements, written
 * just before the process died, which is where an early acknowledgement would show.
 */
async function runAndKill(args: string[], minAcks: number): Promise<Acked[]> {
  const child: ChildProcess = spawn(process.execPath, [childJs, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acked: Acked[] = [];
  let buffered = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let reached: () => void = () => {};
  const enough = new Promise<void>((resolve) => {
    reached = resolve;
  });
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!; // only complete lines count as acknowledged
    for (const line of lines) {
      const [word, topic, ts, digest] = line.split(" ");
      if (word === "ack") acked.push({ topic: topic!, key: `${ts}:${digest}` });
    }
    if (acked.length >= minAcks) reached();
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 20_000);
  });
  const outcome = await Promise.race([enough, closed.then(() => "exited" as const), timeout]);
  clearTimeout(timer);
  child.kill("SIGKILL");
  await closed; // drains stdout to EOF
  if (outcome !== undefined) throw new Error(`child ${outcome} after ${acked.length} acks: ${stderr}`);
  return acked;
}

async function expectAllStored(store: Store, acked: Acked[]): Promise<void> {
  await store.start();
  try {
    const topics = [...new Set(acked.map((a) => a.topic))];
    const stored = new Set<string>();
    for (const topic of topics) {
      let cursor: { timestampNs: bigint; digest: Uint8Array } | undefined;
      for (;;) {
        const page = await store.query({ topics: [topic], direction: "asc", limit: 1000, cursor });
        for (const e of page) stored.add(`${e.timestampNs}:${Buffer.from(e.digest).toString("hex")}`);
        if (page.length < 1000) break;
        const last = page[page.length - 1]!;
        cursor = { timestampNs: last.timestampNs, digest: last.digest };
      }
    }
    const missing = acked.filter((a) => !stored.has(a.key));
    expect(missing).toEqual([]);
    expect(stored.size).toBeGreaterThanOrEqual(new Set(acked.map((a) => a.key)).size);
  } finally {
    await store.stop();
  }
}

describe("store durability under SIGKILL", () => {
  for (const sync of ["full", "normal"] as const) {
    it(`sqlite (synchronous=${sync}) keeps every acknowledged envelope`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "xmtp-durable-"));
      try {
        const path = join(dir, "store.db");
        const first = await runAndKill(["sqlite", path, sync], 3000);
        // A second run on the same file after the crash, then another kill.
        const second = await runAndKill(["sqlite", path, sync], 200);
        await expectAllStored(createSqliteStore({ path }), [...first, ...second]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("a process whose last work is an insert and stop() ends by itself (the writer thread lets go)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmtp-durable-"));
    try {
      const path = join(dir, "store.db");
      const child = spawn(process.execPath, [childJs, "sqlite", path, "full"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, XMTP_CHILD_ONCE: "1" },
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      // Bounded: a child still alive after 20 s is killed and the test fails on its exit code.
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
      clearTimeout(timer);
      expect({ code, out, err }).toEqual({ code: 0, out: "ready\nstopped\n", err: "" });
      const store = createSqliteStore({ path });
      await store.start();
      expect(await store.count()).toBe(1);
      await store.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("postgres keeps every acknowledged envelope", async () => {
    const schema = `store_durable_${randomBytes(6).toString("hex")}`;
    try {
      const acked = await runAndKill(["postgres", TEST_DATABASE_URL, schema], 2000);
      await expectAllStored(createPostgresStore({ url: TEST_DATABASE_URL, schema }), acked);
    } finally {
      await dropSchema(schema);
    }
  });
});
