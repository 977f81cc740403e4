import type { Command } from "commander";

/** `srvutil report build`. The report code (charts, storage drivers) loads only when it runs. */
export function registerReportBuildCommand(report: Command): void {
  report
    .command("build")
    .description(
      "Build the weekly report (HTML with charts, Report JSON v1, or the daily CSV) from the stored metrics; default output <data>/reports/<week>.<ext>",
    )
    .option(
      "--week <week>",
      'ISO week such as 2026-W47, or "last": the last complete ISO week in the report zone (--tz)',
      "last",
    )
    .option("--tz <zone>", "IANA time zone the days are cut in (default SRVUTIL_REPORT_TZ)")
    .option("--format <format>", "html, json or csv", "html")
    .option("--out <file>", "output file, or - for stdout")
    .action(async (opts: { week: string; tz?: string; format: string; out?: string }) => {
      await (await import("./report-build-run.js")).reportBuildCommand(opts);
    });
}
