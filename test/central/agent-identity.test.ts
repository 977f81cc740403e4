/**
 * Issue 29, "the fleet page shows each agent's version, OS and last upload
 * error, and how many agents are outdated": a real central (startCentral)
 * on SQLite and PostgreSQL over loopback; the real agent's uploader posts
 * with its own User-Agent; the fleet page, GET /api/v1/servers, whoami and
 * the upload answer say what the central recorded and ships.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postMetrics, uploadTarget } from "../../src/agent/uploader.js";
import { agentUserAgentHeader } from "../../src/agent/version.js";
import { createAgentToken, createViewerToken } from "../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { addUser } from "../../src/central/dashboard/users.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { httpRequest } from "../helpers/http.js";
import { storeBackends, type TempStore } from "../helpers/store-backends.js";
import { ADMIN, DashboardClient } from "./dashboard/http-client.js";
import { csvFor } from "./ingest/fixtures.js";
import { telegrafBatch } from "./interop/telegraf-payload.js";

const VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
).version;
const backends = await storeBackends();

/** Recent samples (the real clock): three, five minutes apart, starting two hours ago. */
const recentCsv = (server: string) => csvFor(server, new Date(Date.now() - 2 * 3_600_000).toISOString(), 3);

/** The row of `server` in the fleet table. */
function fleetRow(body: string, server: string): string {
  const start = body.indexOf(`<tr><th scope="row"><a href="/servers/${encodeURIComponent(server)}">`);
  expect(start, `fleet row of ${server}`).toBeGreaterThan(-1);
  return body.slice(start, body.indexOf("</tr>", start));
}

describe.each(backends)("agent identity on the fleet page: $name", (backend) => {
  let t: TempStore | undefined;
  let c: RunningCentral | undefined;
  let browser: DashboardClient;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    if (backend.skipReason !== undefined) return;
    t = await backend.make();
    for (const server of ["web-01", "old-01", "odd-01", "tg-01", "new-01"]) {
      tokens[server] = await createAgentToken(t.store, server);
    }
    tokens.viewer = await createViewerToken(t.store, "grafana");
    c = await startCentral(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: t.dir,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
      }),
      { store: t.store },
    );
    await addUser(t.store.users, { ...ADMIN, role: "admin", now: Date.now() });
    browser = new DashboardClient(c.url);
    expect((await browser.signIn(ADMIN)).status).toBe(303);
  });
  afterAll(async () => {
    await c?.close();
    await t?.cleanup();
  });
  beforeEach((ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
  });

  const agentPost = (server: string, csv: string) =>
    postMetrics(
      uploadTarget(new URL(`${c!.url}/api/v1/metrics`), tokens[server]!, null),
      Buffer.from(csv),
      10_000,
    );
  /** An upload with exactly this User-Agent, over a real socket. */
  const rawPost = (server: string, userAgent: string, csv = recentCsv(server)) =>
    httpRequest(`${c!.url}/api/v1/metrics`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${tokens[server]}`,
        "content-type": "text/csv",
        "user-agent": userAgent,
      },
      body: csv,
    });

  it("shows a real agent's release and OS after its upload; the answer advertises the central's release", async () => {
    const outcome = await agentPost("web-01", recentCsv("web-01"));
    expect(outcome.kind).toBe("accepted");
    // The same answer, read with its headers: the release this central ships.
    const again = await rawPost("web-01", agentUserAgentHeader());
    expect(again.status).toBe(201);
    expect(again.headers["x-srvutil-agent-latest"]).toBe(VERSION);

    const fleet = (await browser.get("/")).text;
    const row = fleetRow(fleet, "web-01");
    expect(row).toContain(`<span class="version">${VERSION}</span>`);
    expect(row).not.toContain("outdated");
    expect(row).toContain(`<span class="os">${process.platform} ${process.arch} · `);
    expect(fleet).toMatch(/<p class="agents-outdated"><strong>\d+<\/strong> agents? outdated/);
  });

  it("shows a refused upload's code and message, escaped, then marks it older once an upload succeeds", async () => {
    // A value the CSV parser quotes back in its message: HTML and a control character.
    const hostile = recentCsv("web-01").replace(/\n([^\n]+?),/, "\n<img src=x onerror=alert(1)>\u0007,");
    const refused = await agentPost("web-01", hostile);
    expect(refused).toMatchObject({ kind: "rejected", status: 400 });
    let row = fleetRow((await browser.get("/")).text, "web-01");
    expect(row).toMatch(
      /<span class="upload-error">upload refused <time datetime="[^"]+">\d+\u00a0s ago<\/time>: <code>SRVUTIL_E_[A-Z_]+<\/code> /,
    );
    expect(row).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(row).not.toContain("<img");
    expect(row).not.toContain("\u0007");

    const wrongServer = await agentPost("web-01", recentCsv("web-99"));
    expect(wrongServer).toMatchObject({ kind: "misconfigured", status: 403 });
    row = fleetRow((await browser.get("/")).text, "web-01");
    expect(row).toContain("<code>SRVUTIL_E_FORBIDDEN_SERVER</code>");

    const later = recentCsv("web-01").replace(/:00(\.000)?Z/g, ":30Z");
    expect((await agentPost("web-01", later)).kind).toBe("accepted");
    row = fleetRow((await browser.get("/")).text, "web-01");
    expect(row).toContain('<span class="upload-error older">before the last success, upload refused');
    expect(row).toContain("<code>SRVUTIL_E_FORBIDDEN_SERVER</code>");
  });

  it("counts an agent below the central's release as outdated, and not a foreign input or an unknown one", async () => {
    const before = Number(
      /<p class="agents-outdated"><strong>(\d+)</.exec((await browser.get("/")).text)?.[1],
    );
    expect((await rawPost("old-01", "srvutil-agent/0.0.9 (linux; arm64; Linux 5.4.0-1)")).status).toBe(201);
    // Telegraf with an agent token: the server is fed by Telegraf, whatever its token.
    const tg = await httpRequest(`${c!.url}/api/v1/telegraf`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${tokens["tg-01"]}`,
        "content-type": "application/json",
        "user-agent": "srvutil-agent/0.0.1 (linux; x64; Linux 5.4)",
      },
      body: JSON.stringify(telegrafBatch("tg-01", Math.floor(Date.now() / 1000) - 600)),
    });
    expect(tg.status).toBe(200);
    expect((await rawPost("odd-01", "curl/8.5.0")).status).toBe(201);

    const fleet = (await browser.get("/")).text;
    expect(fleet).toContain(
      `<p class="agents-outdated"><strong>${before + 1}</strong> agent${before + 1 === 1 ? "" : "s"} outdated <span class="sub">below ${VERSION}, the release this central ships</span></p>`,
    );
    const old = fleetRow(fleet, "old-01");
    expect(old).toContain('<span class="version">0.0.9</span> <span class="outdated">outdated</span>');
    expect(old).toContain('<span class="os">linux arm64 · Linux 5.4.0-1</span>');
    expect(fleetRow(fleet, "tg-01")).toContain('<td class="feed"><span class="input">Telegraf</span></td>');
    expect(fleetRow(fleet, "odd-01")).toContain('<span class="version unknown">version unknown</span>');

    const api = await httpRequest(`${c!.url}/api/v1/servers`, {
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    const servers = (JSON.parse(api.text) as { servers: { name: string; input: string; agent: unknown }[] })
      .servers;
    expect(servers.find((s) => s.name === "old-01")).toMatchObject({
      input: "agent",
      agent: {
        version: "0.0.9",
        platform: "linux",
        arch: "arm64",
        os: "Linux 5.4.0-1",
        outdated: true,
        agent_version_current: VERSION,
        last_error: null,
      },
    });
    expect(servers.find((s) => s.name === "tg-01")).toMatchObject({ input: "telegraf", agent: null });
    expect(servers.find((s) => s.name === "web-01")).toMatchObject({
      agent: {
        outdated: false,
        last_error: { code: "SRVUTIL_E_FORBIDDEN_SERVER", before_last_success: true },
      },
    });
  });

  it("stores hostile User-Agents as unknown and takes the upload: 10 kB, control characters, HTML", async () => {
    const hostile = [
      `srvutil-agent/9.9.9 (linux; x64; ${"A".repeat(10_000)})`,
      "srvutil-agent/9.9.9 (linux; x64; Linux\t6.1 \u0085<script>alert(1)</script>)",
      '<script>alert("ua")</script>',
      `srvutil-agent/9.9.9 (linux; x64; Linux 6.1)${"\t".repeat(50)}x`,
    ];
    for (const ua of hostile) {
      const res = await rawPost("odd-01", ua);
      expect(res.status, ua.slice(0, 60)).toBe(201);
    }
    const fleet = (await browser.get("/")).text;
    const row = fleetRow(fleet, "odd-01");
    expect(row).toContain('<span class="version unknown">version unknown</span>');
    expect(row).not.toContain("9.9.9");
    expect(fleet).not.toContain("<script>alert");
    expect(fleet).not.toContain("AAAAAAAAAA");
    const [stored] = (await c!.store.serverInputs.list()).filter((x) => x.server === "odd-01");
    expect(stored).toMatchObject({ agentVersion: null, platform: null, arch: null, os: null });
  });

  it("lists an agent that only asked whoami, with its identity; whoami answers the current release", async () => {
    const res = await httpRequest(`${c!.url}/api/v1/agent/whoami`, {
      headers: { authorization: `Bearer ${tokens["new-01"]}`, "user-agent": agentUserAgentHeader() },
    });
    expect(JSON.parse(res.text)).toEqual({ server: "new-01", agent_version_current: VERSION });
    const row = fleetRow((await browser.get("/")).text, "new-01");
    expect(row).toContain('<span class="why">no samples yet</span>');
    expect(row).toContain(`<span class="version">${VERSION}</span>`);
  });
});
