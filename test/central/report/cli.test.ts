import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../../src/errors.js";
import { parseMetricsCsv } from "../../../src/protocol/index.js";
import { REPO_ROOT, runCli } from "../../helpers/cli.js";
import { type TempStore, tempStore, upload } from "../../helpers/store-backends.js";

describe("srvutil report build", () => {
  let t: TempStore;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    t = await tempStore(); // <dir>/srvutil.db is the default database of data dir <dir>
    for (const f of ["w43-part1.csv", "w43-part2.csv"]) {
      const bytes = readFileSync(path.join(REPO_ROOT, "test/fixtures/report", f));
      await upload(t.store, parseMetricsCsv(bytes, { now: Date.UTC(2026, 10, 25) }).rows);
    }
    await t.store.close();
    env = { ...process.env, SRVUTIL_DATA_DIR: t.dir, SRVUTIL_REPORT_TZ: "Europe/Berlin", SRVUTIL_DB_URL: "" };
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("writes Report JSON v1 to stdout with --out -", async () => {
    const r = await runCli(["report", "build", "--week", "2026-W43", "--format", "json", "--out", "-"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.week).toBe("2026-W43");
    expect(report.timezone).toBe("Europe/Berlin");
    const sunday = report.servers[0].days[6];
    expect(sunday).toMatchObject({ date: "2026-10-25", samples: 4, cpu: { avg: 50, peak: 95 } });
    // Without a groups file there is no "By group".
    expect(Object.hasOwn(report, "groups")).toBe(false);
  });

  it("gives the whole fleet's report by group when a groups file configures groups, as the default group's email has it", async () => {
    const file = path.join(t.dir, "groups.json");
    writeFileSync(
      file,
      JSON.stringify({
        groups: [
          { name: "dbs", select: "name=db-*", to: ["dba@example.com"] },
          { name: "payments", select: "team=payments", to: ["pay@example.com"] },
        ],
      }),
    );
    const groupsEnv = { ...env, SRVUTIL_GROUPS_FILE: file, SRVUTIL_PUBLIC_URL: "https://mon.example.com" };
    const json = await runCli(
      ["report", "build", "--week", "2026-W43", "--format", "json", "--out", "-"],
      groupsEnv,
    );
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.groups.map((g: { name: string | null; servers: number }) => [g.name, g.servers])).toEqual([
      ["dbs", 1],
      ["payments", 0],
      [null, 0],
    ]);
    const html = await runCli(
      ["report", "build", "--week", "2026-W43", "--format", "html", "--out", "-"],
      groupsEnv,
    );
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout).toContain(">By group<");
    expect(html.stdout).toContain('<a href="https://mon.example.com/reports/2026-W43?group=dbs"');
  });

  it("writes the daily CSV (the email's CSV attachment) with --format csv", async () => {
    const r = await runCli(["report", "build", "--week", "2026-W43", "--format", "csv", "--out", "-"], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\r\n");
    expect(lines[0]).toMatch(/^week,server,status,date,samples,/);
    expect(lines.some((l) => l.startsWith("2026-W43,") && l.includes(",2026-10-25,4,"))).toBe(true);
  });

  it("writes HTML to <data>/reports/<week>.html by default and logs the run", async () => {
    const r = await runCli(["report", "build", "--week", "2026-W43", "--tz", "UTC"], env);
    expect(r.code).toBe(0);
    const file = path.join(t.dir, "reports", "2026-W43.html");
    expect(existsSync(file)).toBe(true);
    const html = readFileSync(file, "utf8");
    expect(html).toContain("db-01");
    expect(html).toContain("<b>UTC</b>");
    const log = readFileSync(path.join(t.dir, "Logs", "automation.log"), "utf8")
      .trim()
      .split("\n");
    expect(JSON.parse(log[log.length - 1]!)).toMatchObject({
      event: "report built",
      week: "2026-W43",
      format: "html",
    });
  });

  it.each([
    [["--week", "2026-W99"], /week '2026-W99' does not exist/],
    [["--week", "yesterday"], /expected an ISO week like "2026-W47" or "last"/],
    [["--week", "last", "--tz", "Nowhere/City"], /unknown time zone 'Nowhere\/City'/],
    [["--week", "last", "--format", "pdf"], /--format: expected html, json or csv/],
  ])("refuses %j with one clear line and exit code 64 (bad input)", async (args, message) => {
    const r = await runCli(["report", "build", ...args], env);
    expect(r.code).toBe(EXIT_CODE.bad_input);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
