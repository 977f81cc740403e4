import { defineConfig } from "vitest/config";

/** `npm run check:agent-bin`: structure checks of all five executables (test/agent/*.check.ts). */
export default defineConfig({
  test: {
    include: ["test/agent/*.check.ts"],
    testTimeout: 60_000,
    pool: "forks",
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
