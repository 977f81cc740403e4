import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { buildWeeklyReport, renderReport, type WeeklyReport } from "../../../src/central/report/index.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { launchTestBrowser } from "../../helpers/browser.js";
import { demoFleet } from "../../helpers/demo-fleet.js";
import { type TempStore, tempStore, upload } from "../../helpers/store-backends.js";

const TZ = "Europe/Berlin";
const WEEK = resolveReportWeek("2026-W47", TZ);
const NOW = WEEK.to + 6 * 3_600_000;
const EVIL = "<script>alert(1)</script>";

describe("renderReport", () => {
  let t: TempStore;
  let report: WeeklyReport;

  beforeAll(async () => {
    t = await tempStore();
    await demoFleet(t.store, WEEK, 28);
    // An agent-supplied mount name that is an attack on whoever renders it.
    const evil: MetricRow[] = [];
    for (let ts = WEEK.from; ts < WEEK.to; ts += 3_600_000) {
      evil.push({
        timestamp: ts,
        server: "evil-01",
        cpuPercent: 12,
        cpuPeakPercent: null,
        intervalSeconds: 3600,
        memTotalBytes: 1000,
        memUsedBytes: 960,
        memAvailableBytes: 40,
        diskMount: EVIL,
        diskTotalBytes: 1000,
        diskUsedBytes: 990,
        diskFreeBytes: 10,
      });
    }
    await upload(t.store, evil);
    report = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: TZ, now: NOW });
  }, 60_000);
  afterAll(async () => {
    await t.cleanup();
  });

  it("escapes every agent-supplied string, in the HTML and in the charts", async () => {
    const evilServer = report.servers.find((s) => s.server === "evil-01")!;
    expect(evilServer.findings.some((f) => f.message.includes(EVIL))).toBe(true);
    for (const mode of ["standalone", "email"] as const) {
      const r = await renderReport(report, mode);
      expect(r.html).not.toMatch(/<script/i);
      expect(r.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    }
  });

  it("standalone: agent-supplied strings inside the inline SVG stay text (server and mount names, in Chromium)", async () => {
    // Server names are checked at ingest, but the renderer must not rely on it.
    const evilName = `"><svg onload=alert(2)><script>alert(3)</script>`;
    const renamed: WeeklyReport = {
      ...report,
      servers: report.servers.map((s) => (s.server === "evil-01" ? { ...s, server: evilName } : s)),
    };
    const r = await renderReport(renamed, "standalone");
    expect(r.html).not.toMatch(/<script|<svg onload/i);
    const evilSection = r.html.slice(r.html.indexOf("&quot;&gt;&lt;svg onload=alert(2)&gt;"));
    // The chart's accessible name (aria-label and <title>) and its legend (the evil mount) are escaped.
    expect(evilSection).toMatch(
      /<svg role="img" aria-label="&quot;&gt;&lt;svg onload=alert\(2\)&gt;&lt;script&gt;alert\(3\)&lt;\/script&gt;: /,
    );
    expect(evilSection).toContain(
      "<title>&quot;&gt;&lt;svg onload=alert(2)&gt;&lt;script&gt;alert(3)&lt;/script&gt;: ",
    );
    expect(evilSection).toContain('fill="#374151">&lt;script&gt;alert(1)&lt;/script&gt;</text>');

    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-report-svg-"));
    const file = path.join(dir, "evil.html");
    writeFileSync(file, r.html);
    const browser = await launchTestBrowser();
    try {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`file://${file}`);
      const facts = (await page.evaluate(`(() => {
        const svgs = [...document.querySelectorAll("svg")];
        const evil = svgs.filter((s) => s.getAttribute("aria-label").startsWith(${JSON.stringify(evilName)}));
        return {
          svgs: svgs.length,
          scripts: document.querySelectorAll("script").length,
          handlers: [...document.querySelectorAll("*")].filter((el) => [...el.attributes].some((a) => a.name.startsWith("on"))).length,
          evilTitles: evil.map((s) => s.querySelector("title").textContent.slice(0, ${evilName.length})),
          legends: evil.flatMap((s) => [...s.querySelectorAll("text")].map((t) => t.textContent)),
          sized: svgs.every((s) => Math.abs(s.getBoundingClientRect().height / s.getBoundingClientRect().width - 190 / 640) < 0.01),
        };
      })()`)) as {
        svgs: number;
        scripts: number;
        handlers: number;
        evilTitles: string[];
        legends: string[];
        sized: boolean;
      };
      expect(dialogs).toEqual([]);
      expect(facts.scripts).toBe(0);
      expect(facts.handlers).toBe(0);
      // Every chart of every server is an <svg> (not a nested one from a name), keeping its aspect ratio.
      expect(facts.svgs).toBe(r.html.match(/<svg role="img"/g)!.length);
      expect(facts.sized).toBe(true);
      expect(facts.evilTitles).toEqual([evilName, evilName]);
      expect(facts.legends).toContain(EVIL);
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("standalone: self-contained, charts as inline SVG with an accessible name, no scripts", async () => {
    const r = await renderReport(report, "standalone");
    expect(r.images).toEqual([]);
    expect(r.html).not.toMatch(/cid:|<link|<style|src="http|data:image|<img/i);
    const svgs = [...r.html.matchAll(/<svg role="img" aria-label="([^"]+)"[^>]*><title>([^<]+)<\/title>/g)];
    // Two charts per server with disks.
    expect(svgs.length).toBe(report.servers.filter((s) => s.days.some((d) => d.disks.length > 0)).length * 2);
    for (const [, label, title] of svgs) {
      expect(label!.length).toBeGreaterThan(20);
      expect(title).toBe(label);
    }
    expect(r.html).toContain("Europe/Berlin");
    expect(r.html).toMatch(/max-width:680px/);
    // Week over week, coverage and the per-mount tables are there for every server.
    expect(r.html.match(/this week vs last week/g)).toHaveLength(report.servers.length);
    expect(r.html).toContain("100\u00a0% of 288");
    expect(r.html).toContain("Disk /var/lib/postgresql");
  });

  it("email: every cid: image is attached as a PNG and every attachment is used", async () => {
    const r = await renderReport(report, "email", { maxDetailedServers: 3 });
    const cids = [...r.html.matchAll(/src="cid:([^"]+)"/g)].map((m) => m[1]);
    expect(cids.length).toBe(6);
    expect(r.images.map((i) => i.cid).sort()).toEqual([...cids].sort());
    for (const img of r.images) {
      expect(img.contentType).toBe("image/png");
      expect(img.content.subarray(0, 8)).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
    }
    // Servers beyond the detailed ones get one line each.
    expect(r.html).toContain(`Other servers (${report.servers.length - 3})`);
  });

  it("subject and plain text carry the key facts", async () => {
    const r = await renderReport(report, "email");
    const action = report.servers.filter((s) => s.status !== "ok").length;
    expect(action).toBeGreaterThan(0);
    expect(r.subject).toBe(
      `srvutil weekly report 2026-W47 (2026-11-16 to 2026-11-22): ${action} of ${report.servers.length} servers need action`,
    );
    expect(r.text).toContain("Days in time zone Europe/Berlin");
    const c = report.fleet!.counts;
    expect(r.text).toContain(`critical ${c.critical}, warning ${c.warning}, silent ${c.silent}, ok ${c.ok}`);
    for (const n of report.fleet!.needs_action) expect(r.text).toContain(`- ${n.server} [${n.status}]`);
    for (const s of report.servers) expect(r.text).toContain(`== ${s.server} [${s.status}]`);
  });

  it("renders in headless Chromium: charts drawn, width fits 680 px, readable on a phone", async () => {
    const dir = path.join(os.tmpdir(), `srvutil-report-shot-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "report.html");
    const withoutEvil = { ...report, servers: report.servers.filter((s) => s.server !== "evil-01") };
    withoutEvil.fleet = {
      counts: { ...report.fleet!.counts },
      needs_action: report.fleet!.needs_action.filter((n) => n.server !== "evil-01"),
    };
    const evilStatus = report.servers.find((s) => s.server === "evil-01")!.status;
    withoutEvil.fleet.counts[evilStatus]--;
    writeFileSync(file, (await renderReport(withoutEvil, "standalone")).html);
    const evilFile = path.join(dir, "evil.html");
    writeFileSync(evilFile, (await renderReport(report, "standalone")).html);
    const browser = await launchTestBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 760, height: 1600 } });
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`file://${evilFile}`);
      await page.goto(`file://${file}`);
      // Evaluated in the page (a string, so this Node-typed file needs no DOM types).
      const facts = (await page.evaluate(`(() => {
        const charts = [...document.querySelectorAll("svg")];
        const main = document.querySelector('table[width="680"]');
        return {
          images: charts.length,
          broken: charts.filter((c) => c.getBoundingClientRect().height < 100).length,
          mainWidth: main.getBoundingClientRect().width,
          text: document.body.innerText,
        };
      })()`)) as { images: number; broken: number; mainWidth: number; text: string };
      expect(dialogs).toEqual([]); // the <script> mount never ran
      expect(facts.images).toBeGreaterThan(0);
      expect(facts.broken).toBe(0);
      expect(facts.mainWidth).toBe(680);
      expect(facts.text).toContain("Needs action");
      await page.screenshot({ path: path.join(dir, "report.png"), fullPage: false });
      // Phone: the layout shrinks to the screen instead of forcing sideways scrolling of the page.
      await page.setViewportSize({ width: 390, height: 844 });
      const phone = (await page.evaluate(
        `({ main: document.querySelector('table[width="680"]').getBoundingClientRect().width })`,
      )) as { main: number };
      expect(phone.main).toBeLessThanOrEqual(390);
      await page.screenshot({ path: path.join(dir, "report-phone.png") });
    } finally {
      await browser.close();
    }
  });
});
