import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { launchTestBrowser } from "../../helpers/browser.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { ADMIN, type DashboardHarness, dashboardBackends } from "./harness.js";

/**
 * The Add server page in a real Chromium (as ./browser.test.ts runs the other
 * pages), on SQLite and PostgreSQL: reached from the navigation, the form
 * filled and sent, the commands shown with working copy buttons (the
 * clipboard read back), no serious axe-core violation, and no sideways
 * scrolling at phone width.
 */
const backends = await dashboardBackends();
/** Evaluated in the page (a string: this file is not compiled with the DOM's types). */
const CLIPBOARD = "navigator.clipboard.readText()";
const AXE = readFileSync(path.join(REPO_ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
/** Screenshots, as ./browser.test.ts keeps them (test artifacts). */
const ARTIFACTS = path.join(REPO_ROOT, ".tmp/dashboard-screenshots");

let browser: Browser;
beforeAll(async () => {
  execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts/build-dashboard.mjs")], { stdio: "inherit" });
  browser = await launchTestBrowser();
  // The bundled Chromium runs single-process and exits with its last page, so one stays open.
  await (await browser.newContext()).newPage();
});
afterAll(async () => browser?.close());

async function signIn(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel("User name").fill(ADMIN.name);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/`);
}

async function seriousViolations(page: Page): Promise<{ id: string; nodes: string[] }[]> {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
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
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
  });
}

describe.each(backends)("Add server page in Chromium: %s", (name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  let base = "";
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    h = await make({ clock: Date.now });
    base = await h.listen();
  });
  afterAll(async () => h?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("creates a token from the form and copies the command with its button", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      locale: "en-US",
    });
    context.setDefaultTimeout(10_000);
    // 127.0.0.1 is a secure context: the page script uses the clipboard API, granted here.
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await signIn(page, base);
    await page.getByRole("link", { name: "Add server" }).click();
    await page.waitForURL(`${base}/admin/add-server`);

    await page.getByLabel("Servers (name glob").fill("web-*");
    await page.getByLabel("Uses (servers it may enrol)").fill("2");
    await page.getByLabel("Expires after").fill("1h");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.locator("#cmd-unix").waitFor();
    const unix = (await page.locator("#cmd-unix").textContent())!;
    expect(unix).toMatch(
      new RegExp(
        `^curl -fsSL ${base}/install\\.sh \\| sudo sh -s -- --enrol srve_[0-9a-f]{12}_[0-9a-f]{64}$`,
      ),
    );
    const token = unix.split(" ").at(-1)!;
    expect(await page.locator("#cmd-windows").textContent()).toBe(
      `& ([scriptblock]::Create((irm ${base}/install.ps1))) -Enrol ${token}`,
    );
    // The script shows the copy buttons (rendered hidden, for pages without scripts).
    const buttons = page.getByRole("button", { name: "Copy" });
    expect(await buttons.count()).toBe(3);
    for (const b of await buttons.all()) expect(await b.isVisible()).toBe(true);

    await buttons.nth(0).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    expect(await page.evaluate<string>(CLIPBOARD)).toBe(unix);
    await buttons.nth(1).click();
    expect(await page.evaluate<string>(CLIPBOARD)).toBe(
      `& ([scriptblock]::Create((irm ${base}/install.ps1))) -Enrol ${token}`,
    );
    await buttons.nth(2).click();
    expect(await page.evaluate<string>(CLIPBOARD)).toBe(token);
    expect(errors).toEqual([]);
    mkdirSync(path.join(ARTIFACTS, name), { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, name, "add-server.png"), fullPage: true });

    // The axe scan needs axe's own script: CSP bypassed for it only.
    const scan = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const scanned = await scan.newPage();
    await signIn(scanned, base);
    await scanned.goto(`${base}/admin/add-server`);
    expect(await seriousViolations(scanned)).toEqual([]);
    await scanned.getByLabel("Servers (name glob").fill("db-*");
    await scanned.getByRole("button", { name: "Create token" }).click();
    await scanned.locator("#cmd-unix").waitFor();
    expect(await seriousViolations(scanned)).toEqual([]);

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" });
    const mobile = await phone.newPage();
    await signIn(mobile, base);
    await mobile.goto(`${base}/admin/add-server`);
    await mobile.getByLabel("Servers (name glob").fill("app-*");
    await mobile.getByRole("button", { name: "Create token" }).click();
    await mobile.locator("#cmd-unix").waitFor();
    // The long commands wrap inside their box; the page never scrolls sideways.
    expect(await mobile.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
  }, 90_000);
});
