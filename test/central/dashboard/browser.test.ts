import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Alerting, loadAlerting } from "../../../src/central/alerts/setup.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { alertCommit, alertEpisode } from "../../helpers/alerts.js";
import { launchTestBrowser } from "../../helpers/browser.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { type Receiver, startReceiver } from "../alerts/http-receiver.js";
import { ADMIN, type DashboardHarness, dashboardBackends, NOW, REPORT_WEEK, VIEWER } from "./harness.js";

/**
 * The dashboard in a real Chromium, on SQLite and PostgreSQL: the main flow
 * with the mouse and with the keyboard only, tokens, roles, a forged
 * cross-site form, and an axe-core scan of every page. Screenshots go to
 * .tmp/dashboard-screenshots/<backend>/ (test artifacts; the docs' own come
 * from the demo: `npm run docs:screenshots`).
 */
const backends = await dashboardBackends();
const AXE = readFileSync(path.join(REPO_ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
const ARTIFACTS = path.join(REPO_ROOT, ".tmp/dashboard-screenshots");

let browser: Browser;
beforeAll(async () => {
  // The page script and stylesheet come from the project's own build.
  execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts/build-dashboard.mjs")], { stdio: "inherit" });
  browser = await launchTestBrowser();
  // The bundled Chromium runs single-process and exits with its last page, so one stays open.
  await (await browser.newContext()).newPage();
});
afterAll(async () => browser?.close());

async function signIn(page: Page, base: string, user: { name: string; password: string }): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel("User name").fill(user.name);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/`);
}

describe.each(backends)("dashboard in Chromium: %s", (name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  let base = "";
  let context: BrowserContext;
  const shots = path.join(ARTIFACTS, name);
  const shot = async (page: Page, file: string) => {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `${file}.png`), fullPage: true });
  };
  // The alerts pages' channel: a webhook to a loopback receiver (SRVUTIL_ALERTS_CONFIG as the central reads it).
  let receiver: Receiver | undefined;
  let alerting: Alerting | undefined;
  let alertsDir = "";
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    receiver = await startReceiver(() => ({ status: 202, body: "accepted" }));
    alertsDir = mkdtempSync(path.join(os.tmpdir(), "srvutil-browser-alerts-"));
    const file = path.join(alertsDir, "alerts.json");
    writeFileSync(
      file,
      JSON.stringify({
        channels: [{ name: "ops-hook", type: "webhook", url: `${receiver.origin}/hook/secret-token-77` }],
      }),
    );
    alerting = loadAlerting(
      loadCentralConfig({ SRVUTIL_DATA_DIR: alertsDir, SRVUTIL_ALERTS_CONFIG: file }),
      {},
    );
    h = await make({ alerting: { ...alerting, configFile: file } });
    base = await h.listen();
  });
  afterAll(async () => {
    await h?.close();
    alerting?.mail.close();
    await receiver?.close();
    if (alertsDir !== "") rmSync(alertsDir, { recursive: true, force: true });
  });
  beforeEach(async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
    context.setDefaultTimeout(10_000);
    // Contexts stay open until the browser closes: closing one ends the single-process Chromium.
  });

  it("signs in, filters and sorts the fleet, opens a server, changes the range, opens a report and downloads its CSV", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await signIn(page, base, ADMIN);
    expect(await page.locator("table.fleet tbody tr").count()).toBe(3);
    await shot(page, "fleet");

    await page.getByLabel("Name contains").fill("web");
    await page.getByLabel("Status", { exact: true }).selectOption("critical");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/q=web/);
    expect(new URL(page.url()).searchParams.get("status")).toBe("critical");
    expect(await page.locator("table.fleet tbody th").allTextContents()).toEqual(["web-02"]);
    await page.getByRole("link", { name: "Clear" }).click();
    await page.getByRole("link", { name: "CPU", exact: true }).click();
    await page.waitForURL(/sort=cpu/);
    expect(await page.locator("table.fleet tbody th").allTextContents()).toEqual([
      "web-01",
      "web-02",
      'db-<b>"x"',
    ]);

    await page.locator("table.fleet").getByRole("link", { name: "web-02", exact: true }).click();
    await page.waitForURL(`${base}/servers/web-02`);
    await page.locator("figure.chart.is-live .uplot").first().waitFor();
    expect(await page.locator("figure.chart.is-live").count()).toBe(3);
    await shot(page, "server");
    await page.getByRole("link", { name: "30 days" }).click();
    await page.waitForURL(/range=30d/);
    await page.locator("figure.chart.is-live .uplot").first().waitFor();
    expect(await page.locator("h2").first().textContent()).toContain("Last 30 days");
    await page.getByLabel("From").fill("2026-03-02");
    await page.getByLabel("To").fill("2026-03-03");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForURL(/from=2026-03-02/);
    expect(await page.locator("main").textContent()).toContain("hourly points, 48 of them");

    await page.getByRole("link", { name: "Reports" }).click();
    await shot(page, "reports");
    await page.getByRole("link", { name: REPORT_WEEK }).first().click();
    await page.waitForURL(`${base}/reports/${REPORT_WEEK}`);
    await shot(page, "report");
    // A real download: the link clicked, the file Chromium saved read back.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download CSV" }).click(),
    ]);
    expect(download.url()).toBe(`${base}/reports/${REPORT_WEEK}/daily.csv`);
    expect(download.suggestedFilename()).toBe(`srvutil-${REPORT_WEEK}-daily.csv`);
    const saved = await download.path();
    const csv = readFileSync(saved, "utf8");
    // The file is the archived CSV byte for byte, as the server answers it.
    const answer = await context.request.get(download.url(), { maxRedirects: 0 });
    expect(answer.status()).toBe(200);
    expect(csv).toBe(await answer.text());
    expect(csv.split("\n")[0]).toMatch(/^week,server,status,date,/);
    expect(csv).toContain("web-02");
    await page.getByRole("link", { name: "Open the report (HTML)" }).click();
    await page.waitForURL(`${base}/reports/${REPORT_WEEK}/report.html`);
    expect(await page.locator("body").textContent()).toContain(REPORT_WEEK);
    expect(errors).toEqual([]);
  });

  it("creates and revokes a token, then signs out", async () => {
    const page = await context.newPage();
    await signIn(page, base, ADMIN);
    await page.getByRole("link", { name: "Tokens" }).click();
    await page.getByLabel("Role", { exact: true }).selectOption("agent");
    await page.getByLabel("Server name (or viewer name)").fill("web-09");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = await page.getByLabel("Token", { exact: true }).inputValue();
    expect(token).toMatch(/^srvu_[0-9a-f]{12}_[0-9a-f]{64}$/);
    await shot(page, "tokens");
    await page.goto(`${base}/admin/tokens`);
    expect(await page.content()).not.toContain(token);
    await page.getByRole("button", { name: "Revoke agent tokens of web-09" }).click();
    await page.getByText("Revoked 1 agent token(s) of web-09.").waitFor();
    expect(
      (await h!.store.tokens.list("agent")).find((t) => t.server === "web-09")?.revokedAt,
    ).not.toBeNull();
    await page.getByRole("link", { name: "Users" }).click();
    await shot(page, "users");
    await page.getByRole("link", { name: "Groups" }).click();
    await shot(page, "groups");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${base}/login`);
    await page.goto(`${base}/admin/tokens`);
    expect(page.url()).toBe(`${base}/login?next=%2Fadmin%2Ftokens`);
    await shot(page, "login");
  });

  it("shows a viewer no admin links and answers 403 on admin pages", async () => {
    const page = await context.newPage();
    await signIn(page, base, VIEWER);
    expect(await page.locator('a[href^="/admin/"]').count()).toBe(0);
    for (const url of ["/admin/tokens", "/admin/users", "/admin/groups", "/admin/agent-updates"]) {
      const res = await page.goto(`${base}${url}`);
      expect(res?.status(), url).toBe(403);
    }
    await page.goto(`${base}/reports/${REPORT_WEEK}`);
    expect(await page.getByRole("button", { name: /Resend/ }).count()).toBe(0);
  });

  it("refuses a forged cross-site POST from another site", async () => {
    const page = await context.newPage();
    await signIn(page, base, ADMIN);
    // Another site (localhost ≠ 127.0.0.1) with a form that posts to the dashboard on load.
    const evil: Server = createServer((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(
        `<form id="f" method="post" action="${base}/admin/tokens"><input name="role" value="agent"><input name="name" value="forged-web"><input name="_csrf" value="guess"></form><script>document.getElementById("f").submit()</script>`,
      );
    });
    await new Promise<void>((r) => evil.listen(0, "127.0.0.1", () => r()));
    const port = (evil.address() as { port: number }).port;
    try {
      const answer = page.waitForResponse(
        (r) => r.url() === `${base}/admin/tokens` && r.request().method() === "POST",
      );
      await page.goto(`http://localhost:${port}/`);
      expect((await answer).status()).toBe(403);
    } finally {
      evil.close();
    }
    expect((await h!.store.tokens.list("agent")).some((t) => t.server === "forged-web")).toBe(false);
  });

  it("runs the main flow with the keyboard only", async () => {
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    // The user name field has focus on load.
    await page.locator("#username:focus").waitFor();
    await page.keyboard.type(VIEWER.name);
    await page.keyboard.press("Tab");
    await page.keyboard.type(VIEWER.password);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/`);
    await page.keyboard.press("Tab");
    expect(await page.locator(":focus").textContent()).toBe("Skip to content");
    const tabTo = async (text: string, max = 80) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press("Tab");
        if ((await page.locator(":focus").textContent())?.trim() === text) return;
      }
      throw new Error(`Tab never reached '${text}'`);
    };
    await tabTo("web-01");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/servers/web-01`);
    await tabTo("1 year");
    await page.keyboard.press("Enter");
    await page.waitForURL(/range=1y/);
    expect(await page.locator("main").textContent()).toContain("daily points");
    await tabTo("Sign out");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/login`);
  });

  it("acknowledges, silences and sends a test from the alerts pages", async () => {
    // The dashboard's clock here is the seeded fleet's NOW: alerts are timed by it, as the page reads them.
    const now = NOW;
    const { version } = await h!.store.alerts.readOpen();
    await h!.store.alerts.commitEvaluation(
      alertCommit(now, {
        expectedVersion: version,
        inserts: [
          alertEpisode(now, { server: "web-02", rule: "disk_nearly_full", mount: "/", severity: "critical" }),
          alertEpisode(now, { server: 'db-<b>"x"', summary: "CPU above 90 % <script>x</script>" }),
        ],
      }),
    );
    const id = (await h!.store.alerts.readOpen()).episodes.find((e) => e.server === "web-02")!.id;
    const page = await context.newPage();
    await signIn(page, base, ADMIN);
    await page.getByRole("link", { name: "Alerts", exact: true }).click();
    await page.waitForURL(`${base}/alerts`);
    await page.getByLabel(`Note for alert ${id}`).fill("ana is on it");
    await page.getByRole("button", { name: `Acknowledge alert ${id}` }).click();
    await page.getByText(`Acknowledged alert ${id}.`).waitFor();
    await page.getByLabel("Server glob (db-*)").fill("web-*");
    await page.getByLabel("Rule", { exact: true }).selectOption("disk_nearly_full");
    await page.getByLabel("For (30m, 2h, 3d)").fill("3h");
    await page.getByLabel("Reason").fill("disk swap tonight");
    await page.getByRole("button", { name: "Add silence" }).click();
    await page.getByText(/^Silence \d+ \(server web-\*, rule disk_nearly_full\) until/).waitFor();
    expect(await page.locator("table.alerts-open").textContent()).toContain("disk swap tonight");
    await shot(page, "alerts");
    const [silence] = await h!.store.alerts.listSilences({ activeAt: NOW });
    expect(silence).toMatchObject({ server: "web-*", rule: "disk_nearly_full", createdBy: ADMIN.name });
    await page.getByRole("link", { name: "Channels and test notifications" }).click();
    await page.getByRole("button", { name: "Send test to ops-hook" }).click();
    await page.getByText("HTTP 202 Accepted: accepted").waitFor();
    expect(receiver!.requests.at(-1)!.path).toBe("/hook/secret-token-77");
    expect(await page.content()).not.toContain("secret-token-77");
    await shot(page, "alert-channels");
    await page.goto(`${base}/alerts`);
    await page.getByRole("button", { name: `End silence ${silence!.id}` }).click();
    await page.getByText(`Silence ${silence!.id} ended.`).waitFor();
    // One silence stays in force for the axe scan of /alerts.
    await h!.store.alerts.addSilence({
      server: null,
      rule: null,
      group: "web",
      startsAt: NOW,
      endsAt: NOW + 3_600_000,
      reason: "kept for the scan",
      createdBy: ADMIN.name,
      createdAt: NOW,
    });
  });

  it("passes an axe-core scan of every page with no serious or critical violation, at desktop and phone width", async () => {
    const scan = await browser.newContext({
      bypassCSP: true,
      locale: "en-US",
      viewport: { width: 1280, height: 900 },
    });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" });
    // Scrape states (the last test: the fleet's rows change): web-02's scrape fails, web-01's is up,
    // and a target that never answered has its own page.
    const scraped = { url: "http://10.0.0.5:9100/metrics", instance: "central-a:1:x", updatedAt: Date.now() };
    const failing = { ...scraped, state: "down" as const, lastSuccessAt: null, downSince: Date.now() };
    await h!.store.scrapeStatus.record({
      ...failing,
      server: "web-02",
      lastError: "connect ECONNREFUSED <b>",
    });
    await h!.store.scrapeStatus.record({ ...failing, server: "never-01", lastError: "HTTP 503" });
    await h!.store.scrapeStatus.record({
      ...scraped,
      server: "web-01",
      state: "up",
      lastSuccessAt: Date.now(),
      downSince: null,
      lastError: null,
    });
    try {
      const page = await scan.newPage();
      const pages = [
        "/",
        "/?status=critical",
        "/servers/web-01",
        "/servers/never-01",
        "/servers/web-02",
        "/servers/web-02?range=1y",
        `/servers/web-02?week=${REPORT_WEEK}`,
        "/reports",
        `/reports/${REPORT_WEEK}`,
        "/alerts",
        "/alerts?days=0",
        "/alerts/channels",
        "/admin/tokens",
        "/admin/users",
        "/admin/groups",
        "/admin/agent-updates",
      ];
      const check = async (url: string) => {
        await page.goto(`${base}${url}`);
        await page.addScriptTag({ content: AXE });
        const violations = await page.evaluate(async () => {
          const axe = (
            globalThis as unknown as {
              axe: {
                run(
                  o: unknown,
                ): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
              };
            }
          ).axe;
          const r = await axe.run({ resultTypes: ["violations"] });
          return r.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3),
          }));
        });
        return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      };
      expect(await check("/login"), "/login").toEqual([]);
      await signIn(page, base, ADMIN);
      for (const url of pages) expect(await check(url), url).toEqual([]);

      const mobile = await phone.newPage();
      await signIn(mobile, base, ADMIN);
      for (const url of ["/", "/servers/web-02", `/reports/${REPORT_WEEK}`, "/alerts"]) {
        await mobile.goto(`${base}${url}`);
        // Wide tables scroll inside their box; the page itself never scrolls sideways.
        expect(await mobile.evaluate("document.documentElement.scrollWidth"), url).toBeLessThanOrEqual(390);
      }
      await mobile.goto(`${base}/`);
      await shot(mobile, "fleet-phone");
    } finally {
      // (left open, see beforeEach)
    }
    // A dozen pages scanned at two widths: about 21 s on a quiet machine, so more room than the 30 s default.
  }, 90_000);
});
