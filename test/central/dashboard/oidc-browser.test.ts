import { execFileSync } from "node:child_process";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchTestBrowser } from "../../helpers/browser.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { dashboardHarness } from "./harness.js";
import { type OidcSetup, oidcSetup } from "./oidc-fixture.js";

/**
 * Sign-in with OpenID Connect end to end in a real Chromium: the central's
 * sign-in page, the loopback provider's own login and consent pages, and
 * back to the fleet page with the role the provider's groups map to.
 */
describe("sign-in with OpenID Connect in Chromium", () => {
  let browser: Browser;
  let s: OidcSetup;
  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts/build-dashboard.mjs")], {
      stdio: "inherit",
    });
    browser = await launchTestBrowser();
    s = await oidcSetup((options) => dashboardHarness({ kind: "sqlite" }, options));
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it("signs an admin in at the provider and lands on the fleet page, then signs out at the provider", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${s.base}/`);
    await page.waitForURL(`${s.base}/login?next=%2F`);
    await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
    // The provider's development login page, then its consent page.
    await page.waitForURL((url) => url.origin === s.provider.issuer);
    await page.locator('input[name="login"]').fill("ada");
    await page.locator('input[name="password"]').fill("any password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(`${s.base}/`);
    await expect(page.getByRole("heading", { level: 1, name: "Fleet" }).isVisible()).resolves.toBe(true);
    await expect(page.locator(".who").textContent()).resolves.toBe("ada (admin)");
    await expect(page.getByRole("link", { name: "Users" }).isVisible()).resolves.toBe(true);
    const cookies = await context.cookies(s.base);
    expect(cookies.find((c) => c.name === "srvutil_session")?.httpOnly).toBe(true);
    expect(cookies.some((c) => c.name === "srvutil_oidc")).toBe(false);

    // Sign-out goes through the provider's end-session page and back to srvutil's sign-in page.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.origin === s.provider.issuer);
    await page.locator("button", { hasText: /yes/i }).first().click();
    await page.waitForURL(`${s.base}/login`);
    await page.goto(`${s.base}/admin/users`);
    await page.waitForURL(/\/login\?next=/);
    expect(errors).toEqual([]);
    await context.close();
  });
});
