/**
 * The dashboard's Agent updates page (/admin/agent-updates) over real
 * sockets, on SQLite and PostgreSQL: an admin sees the fleet and each group
 * with its agents and how many are outdated, and changes the policy with the
 * form (stored with who and when, logged); a viewer, a visitor and a form
 * without its CSRF token change nothing; a bad value is refused.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADMIN, type DashboardHarness, dashboardBackends, VIEWER } from "./harness.js";
import { DashboardClient } from "./http-client.js";

const backends = await dashboardBackends();

/** The text of the table row whose header cell is `scope`, tags removed. */
function rowText(page: string, scope: string): string {
  const m = new RegExp(`<tr><th scope="row">${scope}</th>(.*?)</tr>`).exec(page);
  return (m?.[1] ?? "").replace(/<option[^>]*>[^<]*<\/option>/g, "").replace(/<[^>]+>/g, "|");
}

describe.each(backends)("Agent updates page: %s", (_name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  let base = "";
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    h = await make({ clock: Date.now });
    base = await h.listen();
    const now = Date.now();
    const agent = (version: string) => ({ version, platform: "linux", arch: "x64", os: null });
    // web-01 behind, web-02 current (the group "web"); the hostile-named db server behind.
    for (const [server, version] of [
      ["web-01", "0.0.1"],
      ["web-02", "99.0.0"],
      ['db-<b>"x"', "0.0.1"],
    ] as const) {
      await h.store.serverInputs.record({
        server,
        input: "agent",
        at: now,
        agent: agent(version),
        outcome: "ok",
      });
    }
  });
  afterAll(async () => h?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("shows the fleet and each group with its agents and outdated ones, and stores a change with who and when", async () => {
    const c = new DashboardClient(base);
    expect((await c.signIn(ADMIN)).status).toBe(303);
    const page = await c.get("/admin/agent-updates");
    expect(page.status).toBe(200);
    expect(page.text).toContain('<a href="/admin/agent-updates" aria-current="page">Agent updates</a>');
    expect(rowText(page.text, "Fleet")).toMatch(/\|off\|\|3\|\|2\|\|–\|/);
    expect(rowText(page.text, "web")).toMatch(/\|off\|\|2\|\|1\|\|–\|/);
    expect(page.text).not.toContain('<th scope="row">default</th>');

    const before = Date.now();
    const saved = await c.post("/admin/agent-updates", { fleet: "off", "group:web": "on" });
    expect(saved.status, saved.text.slice(0, 400)).toBe(200);
    expect(saved.text).toContain("Saved 2 changes.");
    const settings = await h!.store.agentUpdates.list();
    expect(settings.map((s) => [s.group, s.enabled, s.changedBy])).toEqual([
      [null, false, ADMIN.name],
      ["web", true, ADMIN.name],
    ]);
    for (const s of settings) expect(s.changedAt).toBeGreaterThanOrEqual(before);
    expect(rowText(saved.text, "web")).toMatch(/\|on\|\|2\|\|1\|/);
    expect(readFileSync(h!.logFile, "utf8")).toMatch(/agent auto-update changed.*group web.*"to":"on"/);

    // The same again changes nothing; back to the default is a change, recorded.
    expect((await c.post("/admin/agent-updates", { fleet: "off", "group:web": "on" })).text).toContain(
      "Nothing changed.",
    );
    await c.post("/admin/agent-updates", { fleet: "default" });
    const fleet = (await h!.store.agentUpdates.list()).find((s) => s.group === null);
    expect(fleet).toMatchObject({ enabled: null, changedBy: ADMIN.name });

    // A value that is none of the three is refused, escaped, and nothing is stored.
    const bad = await c.post("/admin/agent-updates", { "group:web": "<script>x</script>" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("web: expected default, on or off");
    expect(bad.text).not.toContain("<script>x");
    expect((await h!.store.agentUpdates.list()).find((s) => s.group === "web")?.enabled).toBe(true);
  });

  it("refuses a viewer, a visitor and a form without its CSRF token, and changes nothing", async () => {
    const stored = JSON.stringify(await h!.store.agentUpdates.list());
    const viewer = new DashboardClient(base);
    expect((await viewer.signIn(VIEWER)).status).toBe(303);
    expect((await viewer.get("/")).text).not.toContain("/admin/agent-updates");
    const page = await viewer.get("/admin/agent-updates");
    expect(page.status).toBe(403);
    const post = await viewer.post("/admin/agent-updates", { fleet: "on", "group:web": "off" });
    expect(post.status).toBe(403);
    expect(post.headers["x-srvutil-error-code"]).toBe("SRVUTIL_E_FORBIDDEN");

    const stranger = new DashboardClient(base);
    expect((await stranger.get("/admin/agent-updates")).status).toBe(303);
    expect((await stranger.post("/admin/agent-updates", { fleet: "on" })).status).toBe(403);

    const c = new DashboardClient(base);
    await c.signIn(ADMIN);
    await c.get("/admin/agent-updates");
    const noCsrf = await c.postRaw("/admin/agent-updates", "fleet=on&group%3Aweb=off");
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.text).toContain("missing or wrong CSRF token");
    const wrong = await c.post("/admin/agent-updates", { _csrf: "x".repeat(43), fleet: "on" });
    expect(wrong.status).toBe(403);
    expect(JSON.stringify(await h!.store.agentUpdates.list())).toBe(stored);
  });
});
