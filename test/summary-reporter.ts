import type { Reporter, TestCase, TestModule } from "vitest/node";

/**
 * Ends the run with one plain line, `tests: N passed, N failed, N skipped`,
 * which CI and humans can read without parsing vitest's coloured summary,
 * preceded by the name and reason of every skipped test and every test file
 * that failed before its tests could run.
 *
 * With `CI` set (any value but `false`/`0`) or `SRVUTIL_TEST_FORBID_SKIPS=1`,
 * a skipped test fails the run: on CI every prerequisite is provided, so a
 * skip means a test silently stopped testing.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];
    const brokenFiles: string[] = [];
    for (const mod of testModules) {
      if (mod.state() === "failed" && mod.errors().length > 0) {
        brokenFiles.push(`${mod.relativeModuleId}: ${mod.errors()[0]!.message.split("\n")[0]}`);
      }
      for (const test of mod.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") passed++;
        else if (result.state === "failed") failed++;
        else skipped.push(describeSkip(test, result.state === "skipped" ? result.note : undefined));
      }
    }
    const out: string[] = [""];
    if (brokenFiles.length > 0) {
      out.push(`test files that failed to run (${brokenFiles.length}):`);
      for (const f of brokenFiles) out.push(`  ${f}`);
    }
    if (skipped.length > 0) {
      out.push(`skipped tests (${skipped.length}):`);
      for (const s of skipped) out.push(`  ${s}`);
    }
    const files = brokenFiles.length > 0 ? `, ${brokenFiles.length} files failed to run` : "";
    out.push(`tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped${files}`);
    if (skipped.length > 0 && skipsForbidden(process.env)) {
      out.push(
        `tests: FAILED: ${skipped.length} skipped under ${process.env.SRVUTIL_TEST_FORBID_SKIPS === "1" ? "SRVUTIL_TEST_FORBID_SKIPS=1" : "CI"}; every test must run`,
      );
      process.exitCode = 1;
    }
    process.stdout.write(`${out.join("\n")}\n`);
  }
}

function describeSkip(test: TestCase, note: string | undefined): string {
  const why = note ?? (test.options.mode === "todo" ? "todo" : `${test.options.mode} (no reason given)`);
  return `${test.module.relativeModuleId} > ${test.fullName}: ${why}`;
}

export function skipsForbidden(env: NodeJS.ProcessEnv): boolean {
  if (env.SRVUTIL_TEST_FORBID_SKIPS === "1") return true;
  const ci = env.CI;
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}
