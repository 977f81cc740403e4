/**
 * `npm run docs:screenshots`: regenerates every screenshot the docs show
 * (docs/dashboard-*.png, docs/digest-600.png, docs/digest-phone.png,
 * docs/report-screenshot.png) from the live demo, as a new user sees it:
 * `srvutil demo` (the built dist, as `npm start` runs it) on a temporary data
 * directory, its dashboard, report and email opened in the Chromium the
 * browser tests use (test/helpers/browser.ts). The npm script builds first.
 *
 * The real agent of the demo is named `this-machine` here, so the pictures
 * do not carry the host name of whoever ran the script. No other setting of
 * the caller's environment (SRVUTIL_*) is passed on.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { simpleParser } from "mailparser";
import type { Browser, Page } from "playwright-core";
import { launchTestBrowser } from "../test/helpers/browser.js";
import { startDemoProcess } from "../test/helpers/demo-process.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DOCS = path.join(ROOT, "docs");
const SERVER = "demo-db-01";

interface Demo {
  child: ChildProcess;
  base: string;
  password: string;
  dataDir: string;
}

/** Starts `srvutil demo` and resolves once it serves, with its URL and password. */
async function startDemo(dataDir: string): Promise<Demo> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("SRVUTIL_")),
  );
  Object.assign(env, {
    SRVUTIL_DATA_DIR: dataDir,
    SRVUTIL_LISTEN: "127.0.0.1:0",
    SRVUTIL_SERVER_NAME: "this-machine",
  });
  const started = await startDemoProcess(process.execPath, [path.join(ROOT, "bin/srvutil.js"), "demo"], {
    cwd: ROOT,
    env,
    timeoutMs: 300_000,
  });
  return { ...started, dataDir };
}

const written: string[] = [];
async function shoot(page: Page, file: string, options: { clipHeight?: number } = {}): Promise<void> {
  const target = path.join(DOCS, file);
  const width = page.viewportSize()?.width ?? 1280;
  await page.screenshot({
    path: target,
    fullPage: true,
    ...(options.clipHeight === undefined ? {} : { clip: { x: 0, y: 0, width, height: options.clipHeight } }),
  });
  written.push(file);
  console.log(`  docs/${file}`);
}

async function dashboardShots(browser: Browser, demo: Demo): Promise<string> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "en-US",
    colorScheme: "light",
  });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${demo.base}/login`);
  await shoot(page, "dashboard-login.png");
  await page.getByLabel("User name").fill("demo");
  await page.getByLabel("Password").fill(demo.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${demo.base}/`);
  await shoot(page, "dashboard-fleet.png");
  const week = (await page.locator("#na-h a").first().textContent()) ?? "";
  if (!/^\d{4}-W\d{2}$/.test(week)) throw new Error(`no report week on the fleet page (found '${week}')`);

  await page.goto(`${demo.base}/servers/${SERVER}?range=7d`);
  await page.locator("figure.chart.is-live .uplot").first().waitFor();
  await shoot(page, "dashboard-server.png");
  for (const [url, file] of [
    ["/reports", "dashboard-reports.png"],
    [`/reports/${week}`, "dashboard-report.png"],
    ["/admin/tokens", "dashboard-tokens.png"],
    ["/admin/users", "dashboard-users.png"],
    ["/admin/groups", "dashboard-groups.png"],
  ] as const) {
    await page.goto(`${demo.base}${url}`);
    await shoot(page, file);
  }

  // The full report, as the archive serves it (the README's first picture): its top 2,300 px at 760 px.
  await page.setViewportSize({ width: 760, height: 1600 });
  await page.goto(`${demo.base}/reports/${week}/report.html`);
  await shoot(page, "report-screenshot.png", { clipHeight: 2300 });

  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    locale: "en-US",
    colorScheme: "light",
    storageState: await context.storageState(),
  });
  const small = await phone.newPage();
  await small.goto(`${demo.base}/`);
  await shoot(small, "dashboard-fleet-phone.png");
  if (errors.length > 0) throw new Error(`the dashboard's pages threw:\n${errors.join("\n")}`);
  return week;
}

/** The demo's email as a recipient sees it: the .eml of the outbox, its cid: images inline. */
async function digestShots(browser: Browser, demo: Demo, week: string): Promise<void> {
  const outbox = path.join(demo.dataDir, "outbox");
  const eml = readdirSync(outbox).find((f) => f.startsWith(week) && f.endsWith(".eml"));
  if (eml === undefined) throw new Error(`no email of ${week} in ${outbox}`);
  const mail = await simpleParser(readFileSync(path.join(outbox, eml)));
  let html = typeof mail.html === "string" ? mail.html : "";
  if (html === "") throw new Error(`${eml} has no HTML part`);
  for (const a of mail.attachments) {
    if (a.cid === undefined) continue;
    html = html.replaceAll(`cid:${a.cid}`, `data:${a.contentType};base64,${a.content.toString("base64")}`);
  }
  if (html.includes('src="cid:')) throw new Error(`${eml}: an image of the HTML is not attached`);
  const file = path.join(demo.dataDir, "digest.html");
  writeFileSync(file, html);
  for (const [width, shot] of [
    [600, "digest-600.png"],
    [375, "digest-phone.png"],
  ] as const) {
    const page = await browser.newPage({ viewport: { width, height: 1200 }, colorScheme: "light" });
    await page.goto(`file://${file}`);
    await shoot(page, shot);
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "srvutil-docs-shots-"));
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  try {
    console.log(`srvutil demo on ${dataDir} ...`);
    demo = await startDemo(dataDir);
    browser = await launchTestBrowser();
    // The bundled Chromium runs single-process and exits with its last page, so one stays open.
    await (await browser.newContext()).newPage();
    const week = await dashboardShots(browser, demo);
    await digestShots(browser, demo, week);
    console.log(`${written.length} screenshots written (report week ${week}).`);
  } finally {
    await browser?.close();
    const child = demo?.child;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
