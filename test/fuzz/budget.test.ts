/**
 * Issue 24, point 5: at least 10,000 generated hostile inputs, in CI. Each
 * fuzz file checks at its end that it sent its share (FuzzRun.finish); this
 * holds the shares to the total and to the files that exist.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { budgetOf, FUZZ_BUDGET } from "./harness.js";

const FILES_WITHOUT_BUDGET = ["budget.test.ts", "known-findings.test.ts", "regressions.test.ts"];

describe("fuzz budget", () => {
  it("adds up to at least 10,000 generated inputs", () => {
    const files = Object.keys(FUZZ_BUDGET) as (keyof typeof FUZZ_BUDGET)[];
    const total = files.reduce((sum, f) => sum + budgetOf(f), 0);
    console.info(
      `[fuzz] budget: ${total} inputs in ${files.length} files (${files.map((f) => `${f} ${budgetOf(f)}`).join(", ")})`,
    );
    expect(total).toBeGreaterThanOrEqual(10_000);
  });

  it("names exactly the fuzz files there are", () => {
    const here = readdirSync(path.dirname(new URL(import.meta.url).pathname))
      .filter((f) => f.endsWith(".test.ts") && !FILES_WITHOUT_BUDGET.includes(f))
      .sort();
    expect(here).toEqual(Object.keys(FUZZ_BUDGET).sort());
  });
});
