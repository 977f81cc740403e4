import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DateTime } from "luxon";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

/** `report build` without --week builds last week's report: the last complete ISO week in the report zone. */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-report-default-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ISO week before the one `at` falls in, in `zone`. */
function weekBefore(at: number, zone: string): string {
  const d = DateTime.fromMillis(at, { zone }).minus({ weeks: 1 });
  return `${d.weekYear}-W${String(d.weekNumber).padStart(2, "0")}`;
}

it("says so in --help", async () => {
  const help = await runCli(["report", "build", "--help"], { PATH: process.env.PATH ?? "" });
  expect(help.code).toBe(0);
  expect(help.stdout.replace(/\s+/g, " ")).toContain(
    'ISO week such as 2026-W47, or "last": the last complete ISO week in the report zone (--tz) (default: "last")',
  );
});

it("without --week builds last week in the report zone", async () => {
  // UTC+14: a zone where "last week" differs from UTC's for part of every Sunday and Monday.
  const zone = "Pacific/Kiritimati";
  const out = path.join(dir, "report.json");
  const before = Date.now();
  const r = await runCli(["report", "build", "--format", "json", "--out", out], {
    PATH: process.env.PATH ?? "",
    SRVUTIL_DATA_DIR: dir,
    SRVUTIL_REPORT_TZ: zone,
  });
  const after = Date.now();
  expect(r.code).toBe(0);
  // The run straddles a week boundary at most once: the answer is the week before either end.
  const expected = new Set([weekBefore(before, zone), weekBefore(after, zone)]);
  const week = (JSON.parse(readFileSync(out, "utf8")) as { week: string }).week;
  expect(expected).toContain(week);
  // The one line the command prints (on stderr, as stdout may be the report itself).
  expect(r.stderr).toBe(`report ${week} (${zone}, 0 servers) → ${out}\n`);
});
