import { describe, expect, it } from "vitest";
import { clipAtWord } from "../../../src/central/report/digest-content.js";

describe("the digest's headline reason", () => {
  const reason =
    "Memory used 97 % on average on 2026-11-25 and up to 99 % of 15.6 GiB, with swap in use on 5 of 7 days";

  it("is kept whole when it fits", () => {
    expect(clipAtWord(reason, 200)).toBe(reason);
  });

  it("is cut after a whole word, never mid-word, and says it was cut", () => {
    for (let max = 40; max < reason.length; max++) {
      const clipped = clipAtWord(reason, max);
      expect(clipped.endsWith("…")).toBe(true);
      expect(clipped.length).toBeLessThanOrEqual(max + 1);
      const kept = clipped.slice(0, -1);
      // What is kept is the reason's beginning, ending where a word ends.
      expect(reason.startsWith(kept)).toBe(true);
      expect(reason[kept.length], `max ${max}: "${clipped}"`).toMatch(/[\s,;:.(]/);
    }
  });
});
