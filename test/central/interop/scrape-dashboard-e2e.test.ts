/**
 * A scrape target's state on the dashboard, end to end: a real
 * `central serve` (in-process, SQLite, the real clock) scrapes a target
 * whose port nothing listens on yet, then the real Debian node_exporter
 * 1.5.0 started on that port, then stopped. The server page and the fleet
 * page say the scrape fails and why, then that it is up again and from
 * where, then that it fails again (the server now known and its data fresh).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningCentral } from "../../../src/central/central-process.js";
import { freePort } from "../../helpers/net.js";
import { type RunningNodeExporter, startNodeExporter } from "../../helpers/node-exporter.js";
import { ADMIN, DashboardClient, dashboardCentral } from "../dashboard/http-client.js";

const SERVER = "flappy-01";

async function waitFor<T>(what: string, check: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    const value = await check().catch((err: unknown) => {
      last = err;
      return null;
    });
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${String(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The fleet table's row of `server`, or null when it is not listed. */
function fleetRow(body: string, server: string): string | null {
  const start = body.indexOf(`<tr><th scope="row"><a href="/servers/${server}">`);
  return start < 0 ? null : body.slice(start, body.indexOf("</tr>", start));
}

describe("scrape state on the dashboard: real node_exporter, real central serve", () => {
  let central: (RunningCentral & { dataDir: string }) | undefined;
  let exporter: RunningNodeExporter | undefined;
  let port: number;
  let targetUrl: string;
  let browser: DashboardClient;
  let dir: string | undefined;

  beforeAll(async () => {
    port = await freePort();
    targetUrl = `http://127.0.0.1:${port}/metrics`;
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-scrape-dash-"));
    const configFile = path.join(dir, "scrape.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        targets: [{ server: SERVER, url: targetUrl, interval_seconds: 1, timeout_seconds: 1 }],
      }),
    );
    central = await dashboardCentral({ SRVUTIL_SCRAPE_CONFIG: configFile, SRVUTIL_REPORT_TZ: "UTC" });
    browser = new DashboardClient(central.url);
    const signIn = await browser.signIn(ADMIN);
    expect(signIn.status).toBe(303);
  }, 60_000);

  afterAll(async () => {
    await exporter?.stop();
    await central?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("shows the failing scrape and its error before the target ever answered", async () => {
    const page = await waitFor(
      "the server page says the scrape fails",
      async () => {
        const p = await browser.get(`/servers/${SERVER}`);
        return p.status === 200 && p.text.includes("Scrape failing since") ? p.text : null;
      },
      20_000,
    );
    expect(page).toContain("No samples from this server yet");
    expect(page).toMatch(
      new RegExp(
        `Scrape failing since <time datetime="[^"]+">\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}</time>:</strong> <span class="scrape-error">[^<]*ECONNREFUSED 127\\.0\\.0\\.1:${port}`,
      ),
    );
    expect(page).toContain(`Scraped from <code>${targetUrl}</code> by <span class="instance">`);
    const row = fleetRow((await browser.get("/")).text, SERVER);
    expect(row).toContain('<span class="badge st-silent">');
    expect(row).toMatch(
      new RegExp(`<span class="why">scrape failing: [^<]*ECONNREFUSED 127\\.0\\.0\\.1:${port}`),
    );
  }, 30_000);

  it("shows it up, scraped from its URL, once node_exporter answers on that port", async () => {
    exporter = await startNodeExporter([], port);
    const page = await waitFor(
      "the server page says the scrape is up, with samples",
      async () => {
        const p = await browser.get(`/servers/${SERVER}`);
        return p.status === 200 && p.text.includes("last seen") && p.text.includes(": up, last scrape")
          ? p.text
          : null;
      },
      30_000,
    );
    expect(page).toMatch(
      new RegExp(
        `<p class="scrape scrape-up">Scraped from <code>${targetUrl.replaceAll(".", "\\.")}</code> by <span class="instance">[^<]+</span>: up, last scrape <time datetime="[^"]+">\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}</time></p>`,
      ),
    );
    expect(page).not.toContain("Scrape failing");
    const row = fleetRow((await browser.get("/")).text, SERVER);
    expect(row).not.toBeNull();
    expect(row).not.toContain("scrape failing");
    expect(row).not.toContain("st-silent");
  }, 45_000);

  it("shows it failing again when node_exporter stops, though its data is fresh", async () => {
    await exporter?.stop();
    const page = await waitFor(
      "the server page says the scrape fails again",
      async () => {
        const p = await browser.get(`/servers/${SERVER}`);
        return p.status === 200 && p.text.includes("Scrape failing since") ? p.text : null;
      },
      20_000,
    );
    expect(page).toContain("last seen");
    expect(page).toMatch(/ECONNREFUSED/);
    expect(page).toMatch(/last success <time datetime="[^"]+">\d{4}-\d{2}-\d{2} \d{2}:\d{2}<\/time>/);
    const row = fleetRow((await browser.get("/")).text, SERVER);
    expect(row).toContain('<span class="badge st-silent">');
    expect(row).toMatch(/<span class="why">scrape failing: [^<]*ECONNREFUSED/);
  }, 30_000);
});
