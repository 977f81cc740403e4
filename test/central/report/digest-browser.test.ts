import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { composeReportMail } from "../../../src/central/delivery/composer.js";
import { EMAIL_CHART } from "../../../src/central/report/charts.js";
import { buildWeeklyReport, type WeeklyReport } from "../../../src/central/report/index.js";
import { alertCommit, alertEpisode } from "../../helpers/alerts.js";
import { launchTestBrowser } from "../../helpers/browser.js";
import { seedFleet } from "../../helpers/seeded-fleet.js";
import { type TempStore, tempStore } from "../../helpers/store-backends.js";
import { LONGEST_GROUP } from "../../helpers/synthetic-report.js";

const TZ = "Europe/Berlin";
const WEEK = resolveReportWeek("2026-W47", TZ);
const NOW = WEEK.to + 6 * 3_600_000;

interface Facts {
  chartTypePx: number[];
  alts: string[];
  viewport: number;
  scrollWidth: number;
  mainWidth: number;
  broken: number;
  images: number;
  text: string;
  /** Texts whose own colour is not set on an element, or whose contrast with their background is below 4.5. */
  unreadable: string[];
}

// Evaluated in the page (a string, so this Node-typed file needs no DOM types).
const FACTS = `(() => {
  const FONT_SIZE = ${EMAIL_CHART.fontSize};
  const lum = (c) => {
    const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bgOf = (el) => {
    for (let e = el; e !== null; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (bg !== "rgba(0, 0, 0, 0)" && bg !== "transparent") return bg;
    }
    return null;
  };
  const unreadable = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (text === "" || el.closest('div[style*="display:none"]')) continue;
    let own = null;
    for (let e = el; e !== null && own === null; e = e.parentElement) if (e.style && e.style.color !== "") own = e;
    const bg = bgOf(el);
    if (own === null || bg === null) { unreadable.push("no explicit colour: " + text.slice(0, 40)); continue; }
    const a = lum(getComputedStyle(el).color), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) unreadable.push(ratio.toFixed(2) + ": " + text.slice(0, 40));
  }
  const imgs = [...document.images];
  const main = document.querySelector('table[width="600"]');
  return {
    viewport: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    mainWidth: main.getBoundingClientRect().width,
    broken: imgs.filter((i) => !i.complete || i.naturalWidth === 0).length,
    images: imgs.length,
    // A chart PNG is drawn at twice its drawing width; its type shows at fontSize × shown / drawn.
    chartTypePx: imgs
      .filter((i) => i.src.startsWith("data:image/png"))
      .map((i) => (FONT_SIZE * i.getBoundingClientRect().width) / (i.naturalWidth / 2)),
    alts: imgs.map((i) => i.alt),
    text: document.body.innerText,
    unreadable,
  };
})()`;

describe("the digest in Chromium", () => {
  let t: TempStore;
  let report: WeeklyReport;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    t = await tempStore();
    await seedFleet(t.store, WEEK, 40);
    // Alerts of the week, so that "Alerts this week" is laid out too: long texts must wrap at 375 px.
    const day = (d: number, h: number) => WEEK.dayStarts[d]! + h * 3_600_000;
    const inserts = [
      alertEpisode(NOW, {
        server: "db-01",
        rule: "disk_full_soon",
        mount: "/var/lib/postgresql/16/main/pg_wal_archive",
        severity: "critical",
        summary:
          "/var/lib/postgresql/16/main/pg_wal_archive full in about 9 hours (92 % now, +1.2 GB/h over the last 48 hours)",
        startedAt: day(4, 9),
        firingAt: day(4, 10),
      }),
      {
        ...alertEpisode(NOW, {
          server: "web-03",
          summary: "CPU above 75 % for 60 minutes (97.25 % now)",
          startedAt: day(1, 14),
          firingAt: day(1, 15),
          resolvedAt: day(1, 18),
        }),
        state: "resolved" as const,
      },
    ];
    expect(await t.store.alerts.commitEvaluation(alertCommit(NOW, { inserts }))).toBe(true);
    // Groups too, so that "By group" is laid out: the longest name a groups file allows must fit at 375 px.
    report = await buildWeeklyReport(t.store, {
      week: WEEK.week,
      timeZone: TZ,
      now: NOW,
      groups: [
        { name: "databases", includes: (s) => s.startsWith("db-") },
        { name: LONGEST_GROUP, includes: (s) => s.startsWith("node-") || s.startsWith("db-") },
      ],
    });
    const mail = await composeReportMail(report, {
      group: "default",
      timeZone: TZ,
      digest: { publicUrl: "https://srvutil.example.com" },
    });
    // A mail client resolves cid: to the attached images; a file page needs them inline.
    let html = mail.html;
    for (const img of mail.images) {
      html = html.replace(
        `cid:${img.cid}`,
        `data:${img.contentType};base64,${img.content.toString("base64")}`,
      );
    }
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-digest-shot-"));
    file = path.join(dir, "digest.html");
    writeFileSync(file, html);
  }, 120_000);
  afterAll(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("fits 600 px and a phone (375 px) without sideways scrolling; readable in light and dark", async () => {
    const browser = await launchTestBrowser();
    // Pages stay open until the browser closes: the bundled Chromium runs single-process and exits with its last page.
    try {
      // The widths of docs/digest-600.png and docs/digest-phone.png (npm run docs:screenshots).
      for (const width of [600, 375] as const) {
        for (const scheme of ["light", "dark"] as const) {
          const page = await browser.newPage({ viewport: { width, height: 1200 }, colorScheme: scheme });
          await page.goto(`file://${file}`);
          const f = (await page.evaluate(FACTS)) as Facts;
          expect(f.scrollWidth, `${width} px ${scheme}`).toBeLessThanOrEqual(f.viewport);
          expect(f.mainWidth).toBe(Math.min(600, width));
          expect(f.images).toBeGreaterThan(0);
          expect(f.broken).toBe(0);
          expect(f.unreadable).toEqual([]);
          // Chart labels stay readable on a phone: at least 10 px as shown.
          expect(f.chartTypePx.length).toBeGreaterThan(0);
          expect(Math.min(...f.chartTypePx), `${width} px`).toBeGreaterThanOrEqual(10);
          // The alt text is for screen readers and blocked images, not printed again under each chart.
          for (const alt of f.alts) if (alt.length > 40) expect(f.text).not.toContain(alt);
          for (const key of [
            "Needs action",
            "Alerts this week",
            "2 alerts fired, 1 still firing",
            "still firing (",
            "Peak CPU per day",
            "Memory used per day",
            "The full report",
            "By group",
            "databases",
            "in no group",
            "Critical",
          ]) {
            expect(f.text).toContain(key);
          }
          expect(f.text).toContain(report.fleet!.needs_action[0]!.server);
          expect(f.text).toContain("more servers");
        }
      }
    } finally {
      await browser.close();
    }
  }, 120_000);
});
