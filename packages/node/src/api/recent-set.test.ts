import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecentSet } from "./service.js";

describe("RecentSet", () => {
  it("forgets the oldest key once full", () => {
    const s = new RecentSet(2);
    expect([s.addIfAbsent("a"), s.addIfAbsent("b"), s.addIfAbsent("a")]).toEqual([true, true, false]);
    expect(s.addIfAbsent("c")).toBe(true); // "a" is forgotten
    expect([s.addIfAbsent("b"), s.addIfAbsent("a")]).toEqual([false, true]);
    expect(new RecentSet(0).addIfAbsent("x")).toBe(true);
  });

  it("answers as a list of the last `max` keys added would", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h")),
        (max, keys) => {
          const s = new RecentSet(max);
          const model: string[] = [];
          for (const k of keys) {
            const fresh = !model.includes(k);
            expect(s.addIfAbsent(k)).toBe(fresh);
            if (fresh) {
              model.push(k);
              if (model.length > max) model.shift();
            }
          }
        },
      ),
    );
  });
});
