import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type ParsedMail, simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { AutomationLog } from "../../../src/central/automation-log.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { type ComposedReport, composeReportMail } from "../../../src/central/delivery/composer.js";
import { sendWeeklyReport } from "../../../src/central/delivery/send.js";
import { OutboxMailTransport } from "../../../src/central/mail/transport.js";
import {
  buildWeeklyReport,
  csvText,
  DAILY_CSV_COLUMNS,
  dailyCsv,
  renderDigest,
  type WeeklyReport,
} from "../../../src/central/report/index.js";
import { seedFleet } from "../../helpers/seeded-fleet.js";
import { type TempStore, tempStore } from "../../helpers/store-backends.js";
import { syntheticReport } from "../../helpers/synthetic-report.js";
import { unzip } from "../../helpers/unzip.js";

const TZ = "Europe/Berlin";
const WEEK = resolveReportWeek("2026-W47", TZ);
const NOW = WEEK.to + 6 * 3_600_000;
const KB = 1024;
const outboxDir = mkdtempSync(path.join(os.tmpdir(), "srvutil-digest-"));
const outbox = new OutboxMailTransport(outboxDir);
afterAll(() => rmSync(outboxDir, { recursive: true, force: true }));

/** Through the real outbox transport (nodemailer's MIME) and back through mailparser. */
async function roundTrip(c: ComposedReport): Promise<{ raw: Buffer; mail: ParsedMail }> {
  const res = await outbox.send({
    messageId: `<digest-${Math.random()}@srvutil>`,
    from: "srvutil@example.com",
    to: ["ops@example.com"],
    cc: [],
    bcc: [],
    subject: c.subject,
    html: c.html,
    text: c.text,
    images: c.images,
    ...(c.attachments !== undefined ? { attachments: c.attachments } : {}),
  });
  const raw = readFileSync(res.file!);
  // keepCidLinks: otherwise mailparser inlines the cid: images into .html.
  return { raw, mail: await simpleParser(raw, { keepCidLinks: true }) };
}

/** An attached file's content; a `.zip` is opened (it must hold exactly the file it is named after). */
function attachment(mail: ParsedMail, suffix: string): Buffer | undefined {
  const a = mail.attachments.find(
    (x) => x.contentDisposition === "attachment" && x.filename?.endsWith(suffix),
  );
  if (a === undefined) return undefined;
  return a.filename!.endsWith(".zip") ? unzipped(a.filename!, a.content, a.contentType) : a.content;
}

function unzipped(filename: string, content: Buffer, contentType: string): Buffer {
  expect(contentType).toBe("application/zip");
  const files = unzip(content);
  const inside = filename.slice(0, -".zip".length);
  expect([...files.keys()]).toEqual([inside]);
  return files.get(inside)!;
}

function parseCsv(text: string): string[][] {
  // The digest's CSV quotes only cells with , " or line breaks; enough for checking it.
  const rows: string[][] = [];
  for (const line of text.split("\r\n")) {
    if (line === "") continue;
    const cells: string[] = [];
    let cur = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") {
        cells.push(cur);
        cur = "";
      } else cur += ch;
    }
    cells.push(cur);
    rows.push(cells);
  }
  return rows;
}

/** The body-and-attachments checks every fleet size must pass. */
async function checkMessage(
  report: WeeklyReport,
  c: ComposedReport,
): Promise<{ raw: Buffer; mail: ParsedMail }> {
  const { raw, mail } = await roundTrip(c);
  const html = String(mail.html);
  expect(Buffer.byteLength(html)).toBeLessThanOrEqual(90 * KB);
  expect(raw.length).toBeLessThanOrEqual(5 * 1024 * KB);
  expect(html).toBe(c.html);
  // Preheader and the body open with the verdict; the text part carries every server needing action.
  const needs = report.fleet!.needs_action;
  for (const n of needs) expect(mail.text).toContain(`- ${n.server} [${n.status}]: ${n.reason}`);
  expect(html).toContain(`Needs action (${needs.length})`);
  // Every cid: image is attached and used.
  const cids = [...html.matchAll(/src="cid:([^"]+)"/g)].map((m) => m[1]);
  const inline = mail.attachments.filter((a) => a.contentDisposition === "inline").map((a) => a.cid);
  expect(inline.sort()).toEqual([...cids].sort());

  // Attachments, when attached, are the report.
  const json = attachment(mail, ".json") ?? attachment(mail, ".json.zip");
  if (json !== undefined) expect(JSON.parse(json.toString())).toEqual(JSON.parse(JSON.stringify(report)));
  const csv = attachment(mail, "-daily.csv") ?? attachment(mail, "-daily.csv.zip");
  if (csv !== undefined) {
    const rows = parseCsv(csv.toString());
    expect(rows[0]).toEqual([...DAILY_CSV_COLUMNS]);
    const expected = report.servers.reduce(
      (a, s) => a + s.days.reduce((b, d) => b + Math.max(1, d.disks.length), 0),
      0,
    );
    expect(rows.length - 1).toBe(expected);
    // Spot-check: every server × day × mount figure against the report.
    const col = (name: (typeof DAILY_CSV_COLUMNS)[number]) => DAILY_CSV_COLUMNS.indexOf(name);
    for (const s of report.servers.slice(0, 50)) {
      for (const d of s.days) {
        const mine = rows.filter((r) => r[col("server")] === s.server && r[col("date")] === d.date);
        expect(mine).toHaveLength(Math.max(1, d.disks.length));
        expect(mine[0]![col("samples")]).toBe(String(d.samples));
        if (d.cpu.avg !== null) expect(Number(mine[0]![col("cpu_avg_percent")])).toBeCloseTo(d.cpu.avg, 2);
        for (const k of d.disks) {
          const row = mine.find((r) => r[col("mount")] === k.mount)!;
          expect(Number(row[col("disk_used_bytes")])).toBe(Math.round(k.used_bytes));
          expect(Number(row[col("disk_used_percent")])).toBeCloseTo(k.percent, 2);
        }
      }
    }
  }
  const full = attachment(mail, ".html") ?? attachment(mail, ".html.zip");
  if (full !== undefined) {
    const text = full.toString();
    // Whole, it has every server's charts as inline SVG; trimmed to the cap, possibly none.
    if (!c.html.includes("attached, trimmed")) expect(text).toContain('<svg role="img"');
    expect(text).not.toMatch(/cid:|src="http|data:image/);
    // Every server has its line (one scan of the text nodes: 10,000 substring searches in 20 MB would take minutes).
    const texts = new Set([...text.matchAll(/>([^<]+)</g)].map((m) => m[1]!.trim()));
    expect(report.servers.filter((s) => !texts.has(s.server)).map((s) => s.server)).toEqual([]);
  }
  // What was not attached whole is said in the digest and in the text part.
  for (const name of ["json", "csv", "html"]) {
    const found = mail.attachments.some(
      (a) => a.contentDisposition === "attachment" && a.filename?.includes(`.${name}`),
    );
    if (!found) {
      expect(html).toContain("NOT ATTACHED");
      expect(mail.text).toContain("NOT ATTACHED");
    }
  }
  return { raw, mail };
}

describe("the weekly email digest", () => {
  for (const n of [10, 100]) {
    describe(`${n} servers from a real SQLite store`, () => {
      let t: TempStore;
      let report: WeeklyReport;
      beforeAll(async () => {
        t = await tempStore();
        await seedFleet(t.store, WEEK, n);
        report = await buildWeeklyReport(t.store, { week: WEEK.week, timeZone: TZ, now: NOW });
      }, 120_000);
      afterAll(async () => t.cleanup());

      it("fits (HTML ≤ 90 KB, message ≤ 5 MB) and attaches the whole report", async () => {
        expect(report.servers).toHaveLength(n);
        const c = await composeReportMail(report, { group: "default", timeZone: TZ });
        const { mail } = await checkMessage(report, c);
        // At this size the JSON and the CSV travel uncompressed, the HTML whole (zipped when over the cap).
        expect(attachment(mail, ".json")).toBeDefined();
        expect(attachment(mail, "-daily.csv")).toBeDefined();
        expect(attachment(mail, ".html") ?? attachment(mail, ".html.zip")).toBeDefined();
        expect(c.html).not.toContain("trimmed");
        expect(c.html).toContain(report.fleet!.needs_action[0]!.server);
      }, 60_000);
    });
  }

  for (const n of [1000, 10_000]) {
    it(`fits at ${n.toLocaleString("en-US")} servers (synthetic report)`, async () => {
      const report = syntheticReport(n);
      const c = await composeReportMail(report, { group: "default", timeZone: TZ });
      const { mail } = await checkMessage(report, c);
      const rest = n - 15;
      expect(c.html).toMatch(new RegExp(`and ${rest} more servers`));
      // The HTML report travels at every size: zipped, and past the cap with fewer full sections.
      const full = mail.attachments.find((a) => a.filename === "srvutil-2026-W47.html.zip");
      expect(full?.content.length).toBeLessThanOrEqual(1024 * 1024);
      expect(c.html).toContain("attached, trimmed, zipped");
      if (n === 10_000) {
        // The data files are over the 1 MiB cap even zipped: the digest says so and how to get them.
        expect(attachment(mail, ".json")).toBeUndefined();
        expect(attachment(mail, "-daily.csv.zip")).toBeUndefined();
        expect(c.html).toMatch(/Not attached: 52\.0 MB is over the 1\.0 MB attachment limit even zipped/);
        expect(c.text).toContain("srvutil report build --week 2026-W47 --format html|json|csv");
      } else {
        expect(attachment(mail, ".json.zip")).toBeDefined();
        expect(c.html).toContain("attached, zipped");
      }
    }, 120_000);
  }

  it("keeps the HTML within budget whatever the content (long reasons, every server needing action)", () => {
    const report = syntheticReport(3000, 11);
    for (const s of report.fleet!.needs_action)
      s.reason = `${s.reason} ${"very long explanation ".repeat(20)}`;
    report.fleet!.needs_action = report.servers.map((s) => ({
      server: s.server,
      status: "critical",
      reason: "x".repeat(300),
    }));
    const d = renderDigest(report);
    expect(Buffer.byteLength(d.html)).toBeLessThanOrEqual(88_000);
    expect(d.html).toMatch(/and \d+ more servers needing action/);
    // The plain text still lists every one of them.
    expect(d.text.split("\n").filter((l) => l.startsWith("- ") && l.includes("[critical]")).length).toBe(
      3000,
    );
  });

  it("says the week's verdict in one sentence (preheader, first line of the body)", () => {
    const report = syntheticReport(40);
    const d = renderDigest(report);
    const c = report.fleet!.counts;
    const action = 40 - c.ok;
    expect(d.preheader).toMatch(new RegExp(`^${action} of 40 servers need action in week 47 \\(`));
    expect(d.preheader.endsWith(".")).toBe(true);
    expect(d.html.indexOf(d.preheader.replace(/'/g, "&#39;").slice(0, 30))).toBeLessThan(
      d.html.indexOf("<table"),
    );
    const allOk = syntheticReport(3);
    for (const s of allOk.servers) s.status = "ok";
    allOk.fleet = { counts: { ok: 3, warning: 0, critical: 0, silent: 0 }, needs_action: [] };
    expect(renderDigest(allOk).preheader).toBe("All 3 servers OK in week 47: nothing needs action.");
  });

  it("escapes agent-supplied strings (mount names in reasons, changes and chart text)", () => {
    const evil = "<script>alert(1)</script>";
    const report = syntheticReport(30);
    const s = report.servers.find((x) => x.status !== "ok")!;
    for (const d of s.days) for (const k of d.disks) k.mount = evil;
    s.week_over_week!.disks = [{ mount: evil, percent: 30, used_bytes: 1 }];
    s.summary!.disks = s.summary!.disks.map((k) => ({ ...k, mount: evil }));
    report.fleet!.needs_action.find((n) => n.server === s.server)!.reason = `Disk ${evil} is full`;
    const d = renderDigest(report);
    expect(d.html).not.toMatch(/<script/i);
    expect(d.html).toContain("Disk &lt;script&gt;alert(1)&lt;/script&gt; is full");
    expect(d.html).toContain("Disk &lt;script&gt;alert(1)&lt;/script&gt;</td>");
  });

  it("links to the dashboard only when SRVUTIL_PUBLIC_URL is set", () => {
    const report = syntheticReport(30);
    expect(renderDigest(report).html).not.toContain("<a ");
    const d = renderDigest(report, { publicUrl: "https://srvutil.example.com/", group: "web" });
    expect(d.html).toContain('href="https://srvutil.example.com/reports/2026-W47?group=web"');
    const first = report.fleet!.needs_action[0]!.server;
    expect(d.html).toContain(`href="https://srvutil.example.com/servers/${first}?week=2026-W47"`);
    expect(d.text).toContain("Dashboard: https://srvutil.example.com/reports/2026-W47?group=web");
  });

  it("over the attachment cap: zipped, then left out, and the digest says which", async () => {
    const report = syntheticReport(200);
    const c = await composeReportMail(report, {
      group: "default",
      timeZone: TZ,
      digest: { attachmentMaxBytes: 60_000 },
    });
    const names = (c.attachments ?? []).map((a) => a.filename);
    for (const a of c.attachments ?? []) expect(a.content.length).toBeLessThanOrEqual(60_000);
    expect(names).not.toContain("srvutil-2026-W47.json");
    expect(c.html).toContain("NOT ATTACHED");
    expect(c.html).toMatch(/over the 60 KB attachment limit/);
    const roomy = await composeReportMail(report, {
      group: "default",
      timeZone: TZ,
      digest: { attachmentMaxBytes: 50_000_000 },
    });
    expect((roomy.attachments ?? []).map((a) => a.filename).sort()).toEqual([
      "srvutil-2026-W47-daily.csv",
      "srvutil-2026-W47.html",
      "srvutil-2026-W47.json",
    ]);
  });
});

describe("daily CSV", () => {
  it("guards agent-supplied cells against formula injection (= + - @ tab CR) and quotes per RFC 4180", () => {
    for (const evil of ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]) {
      const cell = csvText(evil);
      const unquoted = cell.startsWith('"') ? cell.slice(1, -1).replaceAll('""', '"') : cell;
      expect(unquoted.startsWith("'")).toBe(true);
      expect(unquoted.slice(1)).toBe(evil);
    }
    expect(csvText("/var/log")).toBe("/var/log");
    expect(csvText("a,b")).toBe('"a,b"');
    const report = syntheticReport(2);
    report.servers[0]!.days[0]!.disks[0]!.mount = '=cmd|" /C calc"!A0';
    const rows = parseCsv(dailyCsv(report));
    const mountCol = DAILY_CSV_COLUMNS.indexOf("mount");
    expect(rows.map((r) => r[mountCol])).toContain(`'=cmd|" /C calc"!A0`);
    for (const r of rows.slice(1)) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });
});

describe("groups keep their own digests", () => {
  let t: TempStore;
  beforeAll(async () => {
    t = await tempStore();
    await seedFleet(t.store, WEEK, 10);
  }, 60_000);
  afterAll(async () => t.cleanup());

  it("each group's email (body, text and every attachment) carries only its own servers", async () => {
    const groupsFile = path.join(t.dir, "groups.json");
    writeFileSync(
      groupsFile,
      JSON.stringify({
        default: { enabled: false },
        groups: [
          { name: "web", servers: ["web-*"], to: ["web@example.com"] },
          { name: "data", servers: ["db-*", "cache-*"], to: ["dba@example.com"] },
        ],
      }),
    );
    const env = {
      SRVUTIL_DATA_DIR: t.dir,
      SRVUTIL_REPORT_TZ: TZ,
      SRVUTIL_GROUPS_FILE: groupsFile,
      SRVUTIL_PUBLIC_URL: "https://srvutil.example.com",
      SRVUTIL_DIGEST_TOP_N: "4",
    };
    const config = loadCentralConfig(env);
    expect(config.digest).toMatchObject({ publicUrl: "https://srvutil.example.com", topN: 4 });
    const log = new AutomationLog(config.paths.automationLog);
    const out = await sendWeeklyReport({ config, store: t.store, log, week: "2026-W47", now: NOW });
    expect(out.map((o) => [o.group, o.status])).toEqual([
      ["web", "sent"],
      ["data", "sent"],
    ]);
    const all = [
      "web-01",
      "web-02",
      "web-03",
      "api-01",
      "api-02",
      "db-01",
      "db-02",
      "cache-01",
      "batch-01",
      "backup-01",
    ];
    const own = { web: ["web-01", "web-02", "web-03"], data: ["db-01", "db-02", "cache-01"] };
    for (const o of out) {
      const mail = await simpleParser(readFileSync(o.file!), { keepCidLinks: true });
      const mine = own[o.group as "web" | "data"];
      const files = mail.attachments
        .filter((a) => a.contentDisposition === "attachment")
        .map((a) =>
          (a.filename!.endsWith(".zip")
            ? unzipped(a.filename!, a.content, a.contentType)
            : a.content
          ).toString(),
        );
      expect(files).toHaveLength(3);
      const json = JSON.parse(files.find((f) => f.startsWith("{"))!) as WeeklyReport;
      expect(json.servers.map((s) => s.server).sort()).toEqual([...mine].sort());
      for (const body of [String(mail.html), String(mail.text), ...files]) {
        for (const s of all) {
          if (mine.includes(s)) continue;
          expect(body).not.toContain(s);
        }
      }
      expect(String(mail.html)).toContain(`https://srvutil.example.com/reports/2026-W47?group=${o.group}`);
      expect(mail.attachments.some((a) => a.filename === `srvutil-2026-W47-${o.group}.json`)).toBe(true);
    }
  }, 60_000);
});
