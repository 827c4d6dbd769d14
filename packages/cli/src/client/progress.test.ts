import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { startProgress } from "./progress.js";

/** A stand-in for process.stderr that records what is written. */
function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { isTTY, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("progress on stderr", () => {
  test("a quick step shows nothing", () => {
    const { writes, out } = stream(true);
    const p = startProgress("syncing", out);
    vi.advanceTimersByTime(499);
    p.update("1/2");
    p.done("2 things");
    vi.advanceTimersByTime(5000);
    expect(writes).toEqual([]);
  });

  test("on a terminal: one line redrawn in place with the detail and the time, then the summary", () => {
    const { writes, out } = stream(true);
    const p = startProgress("syncing", out);
    vi.advanceTimersByTime(500);
    p.update("1/2");
    vi.advanceTimersByTime(1000);
    p.done("2 things");
    expect(writes).toEqual([
      "\r\x1b[2Ksyncing… (0.5 s)",
      "\r\x1b[2Ksyncing… 1/2 (0.5 s)",
      "\r\x1b[2Ksyncing… 1/2 (1.0 s)", // the once-a-second refresh
      "\r\x1b[2Ksyncing: 2 things (1.5 s)\n",
    ]);
  });

  test("into a file or pipe: a start line and an end line", () => {
    const { writes, out } = stream(false);
    const p = startProgress("syncing", out);
    vi.advanceTimersByTime(3000);
    p.update("1/2");
    p.done();
    expect(writes).toEqual(["syncing…\n", "syncing: done (3.0 s)\n"]);
  });
});
