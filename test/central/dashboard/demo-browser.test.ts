import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_VERSION } from "../../../src/agent/version.js";
import { DEMO_FLEET } from "../../../src/demo/fleet.js";
import { postMetrics } from "../../../src/demo/upload.js";
import { launchTestBrowser } from "../../helpers/browser.js";
import { REPO_ROOT, srvutilCommand } from "../../helpers/cli.js";
import { startDemoProcess } from "../../helpers/demo-process.js";

/**
 * The demo as a new user meets it: `srvutil demo` serving on a fresh data
 * directory, its printed URL and password, the dashboard in Chromium, on the
 * real clock. Screenshots go to .tmp/dashboard-screenshots/demo/.
 */
const SHOTS = path.join(REPO_ROOT, ".tmp/dashboard-screenshots/demo");
const DAY = 86_400;

let browser: Browser;
let demo: ChildProcess | undefined;
let base = "";
let password = "";
const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-demo-browser-"));

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts/build-dashboard.mjs")], { stdio: "inherit" });
  const [cmd, argv] = srvutilCommand(["demo", "--weeks", "2"]);
  const started = await startDemoProcess(cmd, argv, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_SMTP_URL: "",
      SRVUTIL_REPORT_TO: "",
    },
    timeoutMs: 150_000,
  });
  demo = started.child;
  base = started.base;
  password = started.password;
  browser = await launchTestBrowser();
  await (await browser.newContext()).newPage();
}, 200_000);

afterAll(async () => {
  await browser?.close();
  demo?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

async function signedInPage(init?: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  context.setDefaultTimeout(15_000);
  if (init !== undefined) await context.addInitScript(init);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${base}/login`);
  await page.getByLabel("User name").fill("demo");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/`);
  return { page, errors };
}

const shot = async (page: Page, file: string) => {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${file}.png`), fullPage: true });
};

const STATUSES = ["critical", "silent", "warning", "ok"] as const;

describe("the demo in Chromium, as a new user opens it", () => {
  it("shows a live fleet: only demo-ci-silent is silent, and every count agrees with the list it is from", async () => {
    const { page, errors } = await signedInPage();
    await page.goto(`${base}/?per=all`);
    await shot(page, "fleet");
    const rows = await page.locator("table.fleet tbody tr").evaluateAll((trs) =>
      trs.map((tr) => ({
        server: tr.querySelector('th a[href^="/servers/"]')?.textContent ?? "",
        status: /st-(\w+)/.exec(tr.querySelector(".badge")?.className ?? "")?.[1] ?? "",
        memory: tr.querySelectorAll("td.num")[1]?.textContent ?? "",
      })),
    );
    // All ten demo servers and this machine's real agent.
    expect(
      rows
        .filter((r) => r.server.startsWith("demo-"))
        .map((r) => r.server)
        .sort(),
    ).toEqual(DEMO_FLEET.map((p) => p.name).sort());
    expect(rows.length).toBe(DEMO_FLEET.length + 1);
    expect(rows.filter((r) => r.status === "silent").map((r) => r.server)).toEqual(["demo-ci-silent"]);
    // The demo agents introduce themselves as agents of this release do: no "version unknown".
    const agents = await page
      .locator("table.fleet tbody tr")
      .evaluateAll((trs) => trs.map((tr) => tr.lastElementChild?.textContent ?? ""));
    expect(agents.filter((a) => !a.includes(AGENT_VERSION))).toEqual([]);
    // The demo agents declare tags: a chip filters the fleet by one.
    await page.locator('th a.tag[href="/?tag=team%3Ddata"]').first().click();
    await page.waitForURL(/\?tag=team%3Ddata/);
    const data = await page.locator('table.fleet tbody th a[href^="/servers/"]').allTextContents();
    expect(data.sort()).toEqual(
      DEMO_FLEET.filter((p) => p.tags.team === "data")
        .map((p) => p.name)
        .sort(),
    );
    await page.goto(`${base}/?per=all`);
    // Memory as a percentage of a size: "45.4 % of 8.0 GiB" (the silent one has no newest hour).
    for (const r of rows.filter((x) => x.status !== "silent"))
      expect(r.memory, r.server).toMatch(/^\d+\.\d\s%\s+of\s\d+(\.\d)?\s(GiB|MiB|TiB)$/);

    // "Status now": the live counts are the rows of the table.
    const now = page.locator("section", { has: page.locator("#now-h") });
    expect(await now.locator("h2").textContent()).toContain("now");
    for (const s of STATUSES) {
      const count = await now.locator(`li:has(.st-${s}) strong`).textContent();
      expect(Number(count), s).toBe(rows.filter((r) => r.status === s).length);
    }

    // "Needs action": says its report week, and its counts are its list's.
    const na = page.locator("section", { has: page.locator("#na-h") });
    const heading = (await na.locator("h2").textContent()) ?? "";
    expect(heading).toMatch(/report of week \d{4}-W\d{2}/);
    const listed = await na
      .locator("ul.needs > li > .badge")
      .evaluateAll((els) => els.map((e) => /st-(\w+)/.exec(e.className)?.[1] ?? ""));
    expect(listed.length).toBeGreaterThan(0);
    for (const s of ["critical", "silent", "warning"] as const) {
      const count = await na.locator(`ul.report-counts li:has(.st-${s}) strong`).textContent();
      expect(Number(count), s).toBe(listed.filter((x) => x === s).length);
    }
    // No finding repeats its title ("Memory pressure: Memory pressure: …").
    const findings = await na.locator("ul.needs ul li").allTextContents();
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) expect(f).not.toMatch(/(\b[A-Z][a-z]+(?: [a-z]+)*): \1:/);
    // Each finding is on the page once: not also as its server's one-line reason.
    const entries = await na.locator("ul.needs > li").evaluateAll((lis) =>
      lis.map((li) => ({
        text: li.textContent ?? "",
        messages: [...li.querySelectorAll("ul li")].map((f) => {
          const full = f.textContent ?? "";
          const kind = `${f.querySelector(".kind")?.textContent ?? ""}: `;
          return full.slice(full.indexOf(kind) + kind.length);
        }),
      })),
    );
    expect(entries.flatMap((e) => e.messages).length).toBe(findings.length);
    for (const e of entries)
      for (const m of e.messages) {
        expect(m.length, e.text).toBeGreaterThan(20);
        expect(e.text.split(m).length - 1, m).toBe(1);
      }
    expect(errors).toEqual([]);
  });

  it("writes dates one way on every page and chart axis (YYYY-MM-DD HH:mm), and shows when each token was last used", async () => {
    const { page, errors } = await signedInPage();
    const US_DATE = /\b\d{1,2}\/\d{1,2}\/\d{2,4}\b/;
    const TWELVE_HOUR = /\b\d{1,2}(:\d{2})?\s?(am|pm)\b/i;
    const STAMP = /\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b/;
    const pages = ["/", "/reports", "/admin/tokens", "/admin/users"];
    const week = (await page.locator("#na-h a").first().textContent()) ?? "";
    expect(week).toMatch(/^\d{4}-W\d{2}$/);
    pages.push(`/reports/${week}`);
    for (const range of ["24h", "7d", "30d", "1y"]) pages.push(`/servers/demo-db-01?range=${range}`);
    for (const url of pages) {
      await page.goto(`${base}${url}`);
      const text = (await page.locator("main").textContent()) ?? "";
      expect(text, url).not.toMatch(US_DATE);
      expect(text, url).not.toMatch(TWELVE_HOUR);
      // Form fields show their own text: dates are typed as the page writes them, not in the locale's picker.
      for (const input of await page.locator("main input:not([type=hidden])").all()) {
        expect(await input.getAttribute("type"), url).not.toBe("date");
        const value = await input.inputValue();
        if (/\d/.test(value)) expect(value, url).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }
      if (!url.startsWith("/servers/")) continue;
      expect(text, url).toMatch(STAMP);
      // The interactive charts' x-axis labels (drawn on a canvas; app.ts publishes them).
      await page.locator("figure.chart.is-live .uplot").first().waitFor();
      for (const figure of await page.locator("figure.chart.is-live").all()) {
        const labels = JSON.parse((await figure.getAttribute("data-x-labels")) ?? "[]") as string[];
        expect(labels.length, url).toBeGreaterThan(1);
        for (const label of labels)
          for (const line of label.split("\n"))
            expect(line, `${url}: ${JSON.stringify(label)}`).toMatch(
              /^(\d{4}|\d{4}-\d{2}|\d{4}-\d{2}-\d{2}|\d{2}-\d{2}|\d{2}:\d{2})$/,
            );
      }
    }

    // Tokens: the column `central token list` has; every demo agent has uploaded, so each has a time.
    await page.goto(`${base}/admin/tokens`);
    const headers = await page.locator("main table thead th").allTextContents();
    const at = headers.indexOf("Last used");
    expect(at).toBeGreaterThan(0);
    const lastUsed = await page
      .locator("main table tbody tr")
      .evaluateAll(
        (trs, i) =>
          trs.map((tr) => [tr.querySelector("th")?.textContent ?? "", tr.children[i]?.textContent ?? ""]),
        at,
      );
    const demoRows = lastUsed.filter(([name]) => name!.startsWith("demo-"));
    expect(demoRows.length).toBe(DEMO_FLEET.length);
    for (const [name, used] of demoRows) expect(used, name).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    expect(errors).toEqual([]);
  }, 120_000);

  it("puts a new server's one sample inside a 7-day axis, with a note, and survives a locale Intl rejects", async () => {
    const { page } = await signedInPage();
    // A new server, as an admin adds one: a token from the tokens page, one upload.
    await page.goto(`${base}/admin/tokens`);
    await page.getByLabel("Server name (or viewer name)").fill("new-01");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = await page.locator("#new-token").inputValue();
    const sampleAt = Math.floor(Date.now() / 60_000) * 60_000;
    const res = await postMetrics(base, token, [
      {
        timestamp: sampleAt,
        server: "new-01",
        cpuPercent: 12.5,
        cpuPeakPercent: 30,
        intervalSeconds: 60,
        memTotalBytes: 8 * 1024 ** 3,
        memUsedBytes: 3 * 1024 ** 3,
        memAvailableBytes: 5 * 1024 ** 3,
        diskMount: "/",
        diskTotalBytes: 100 * 1024 ** 3,
        diskUsedBytes: 40 * 1024 ** 3,
        diskFreeBytes: 55 * 1024 ** 3,
      },
    ]);
    expect(res.status).toBe(201);

    // The upload shows at once (the rollups' 30-s refresh is not waited for):
    // on the fleet page's row, and as a chart on the server page.
    await page.goto(`${base}/?q=new-01`);
    const row = page.locator("table.fleet tbody tr", { hasText: "new-01" });
    expect(await row.locator("td.num").first().textContent()).toMatch(/^12\.5\s%$/);
    await page.goto(`${base}/servers/new-01?range=7d`);
    expect(await page.locator("main").textContent()).not.toContain("No samples in this range");
    await page.locator("figure.chart.is-live .uplot").first().waitFor();
    expect(await page.locator("#sparse-note").textContent()).toContain("1 sample so far");
    const cpu = page.locator('figure[data-chart="cpu"]');
    const xMin = Number(await cpu.getAttribute("data-x-min"));
    const xMax = Number(await cpu.getAttribute("data-x-max"));
    const nowSec = Date.now() / 1000;
    // The axis is the requested 7 days, ending at the current hour's end...
    expect(xMax - xMin).toBeGreaterThanOrEqual(7 * DAY);
    expect(xMax - xMin).toBeLessThanOrEqual(7 * DAY + 3600);
    expect(xMax).toBeGreaterThanOrEqual(nowSec);
    expect(xMax).toBeLessThanOrEqual(nowSec + 3600);
    // ...and the sample's hour point is inside it, at its right end, not filling the chart.
    const pointAt = Math.floor(sampleAt / 3_600_000) * 3600;
    expect(pointAt).toBeGreaterThanOrEqual(xMin);
    expect(pointAt).toBeLessThanOrEqual(xMax);
    expect((pointAt - xMin) / (xMax - xMin)).toBeGreaterThan(0.95);
    await shot(page, "one-sample");

    // A browser language Intl rejects: the interactive charts still draw, nothing throws.
    const posix = await signedInPage(
      "Object.defineProperty(Navigator.prototype, 'language', { get: () => 'en-US@posix' });",
    );
    await posix.page.goto(`${base}/servers/demo-db-01?range=30d`);
    await posix.page.locator("figure.chart.is-live .uplot").first().waitFor();
    expect(await posix.page.evaluate("navigator.language")).toBe("en-US");
    expect(await posix.page.locator("figure.chart.is-live").count()).toBe(3);
    await shot(posix.page, "server-posix-locale");
    expect(posix.errors).toEqual([]);
  }, 120_000);
});
