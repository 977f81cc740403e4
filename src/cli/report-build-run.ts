import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import { resolveReportWeek } from "../central/aggregate/week.js";
import { AutomationLog } from "../central/automation-log.js";
import { fleetGroupsOfWeek } from "../central/delivery/composer.js";
import { loadDeliveryGroups } from "../central/delivery/groups.js";
import { buildWeeklyReport, dailyCsv, renderReport } from "../central/report/index.js";
import { openStorage } from "../central/storage/open.js";
import { usageError } from "../errors.js";
import { centralConfigFromEnv } from "./central-config.js";

/** Writes a file atomically: temp file, fsync, rename (a crash leaves the old file or the new one). */
export function writeFileAtomic(file: string, content: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, typeof content === "string" ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export interface ReportBuildOptions {
  week: string;
  tz?: string;
  format: string;
  out?: string;
}

/** `srvutil report build` (wired in ./report-build.ts, which loads this module only when it runs). */
export async function reportBuildCommand(opts: ReportBuildOptions): Promise<void> {
  if (opts.format !== "html" && opts.format !== "json" && opts.format !== "csv") {
    throw usageError(`--format: expected html, json or csv, got '${opts.format}'`);
  }
  const config = centralConfigFromEnv();
  const timeZone = opts.tz ?? config.reportTimeZone;
  const thresholds = config.thresholds;
  const log = new AutomationLog(config.paths.automationLog, config.logRotation);
  const started = Date.now();
  const store = await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous });
  try {
    // The whole fleet's report, as the default group's email has it: "By group" when groups are configured.
    const week = resolveReportWeek(opts.week, timeZone, Date.now()).week;
    const configured = loadDeliveryGroups(config.delivery.groupsFile, config.reportTo);
    const groups = await fleetGroupsOfWeek(store, configured, week, timeZone);
    const built = await buildWeeklyReport(store, { week, timeZone, thresholds, groups });
    const content =
      opts.format === "json"
        ? `${JSON.stringify(built, null, 2)}\n`
        : opts.format === "csv"
          ? dailyCsv(built)
          : (await renderReport(built, "standalone", { publicUrl: config.digest.publicUrl })).html;
    let where: string;
    if (opts.out === "-") {
      process.stdout.write(content);
      where = "stdout";
    } else {
      // The default name comes from the resolved week (validated), never from raw input.
      where = opts.out ?? path.join(config.paths.reports, `${built.week}.${opts.format}`);
      writeFileAtomic(where, content);
      process.stderr.write(
        `report ${built.week} (${timeZone}, ${built.servers.length} servers) → ${where}\n`,
      );
    }
    log.info("report built", {
      week: built.week,
      timezone: timeZone,
      format: opts.format,
      servers: built.servers.length,
      needs_action: built.servers.filter((s) => s.status !== "ok").length,
      source: built.source,
      out: where,
      ms: Date.now() - started,
    });
  } catch (err) {
    log.error("report build failed", {
      week: opts.week,
      error: err instanceof Error ? err.message : String(err),
    });
    throw err;
  } finally {
    await store.close();
  }
}
