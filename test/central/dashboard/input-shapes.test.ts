import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type DashboardHarness, dashboardHarness, InjectClient, REPORT_WEEK } from "./harness.js";

/**
 * The dashboard's routes declare their query, params and form body as JSON
 * schemas (types through the type provider); a value the schema does not
 * describe still reaches the handler, which answers with its own page as it
 * did before the schemas, never with fastify's JSON 400. The expected answers
 * were taken from the code before the schemas were added.
 */
describe("dashboard input the schemas do not describe", () => {
  let h: DashboardHarness;
  let c: InjectClient;
  beforeAll(async () => {
    h = await dashboardHarness({ kind: "sqlite" });
    c = new InjectClient(h.app);
    await c.get("/login");
    expect((await c.signIn(ADMIN)).statusCode).toBe(303);
  });
  afterAll(async () => h.close());

  it("treats a repeated range on /servers/NAME as absent: the default range's page", async () => {
    const repeated = await c.get("/servers/web-01?range=a&range=b");
    const plain = await c.get("/servers/web-01");
    expect(repeated.statusCode).toBe(200);
    expect(repeated.headers["content-type"]).toMatch(/^text\/html/);
    expect(repeated.body).not.toContain("FST_ERR_VALIDATION");
    expect(repeated.body.length).toBe(plain.body.length);
  });

  it("treats a repeated next on /login as absent: the form goes back to /", async () => {
    const anonymous = new InjectClient(h.app);
    const res = await anonymous.get("/login?next=a&next=b");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body).toContain('name="next" value="/"');
  });

  it("treats repeated query values on the other pages as absent", async () => {
    const fleet = await c.get("/?sort=a&sort=b&page=1&page=2");
    expect(fleet.statusCode).toBe(200);
    expect(fleet.headers["content-type"]).toMatch(/^text\/html/);
    const week = await c.get(`/reports/${REPORT_WEEK}?group=a&group=b`);
    expect(week.statusCode).toBe(200);
    expect(week.headers["content-type"]).toMatch(/^text\/html/);
    const file = await c.get(`/reports/${REPORT_WEEK}/report.json?group=a&group=b`);
    expect(file.statusCode).toBe(200);
    expect(file.headers["content-type"]).toMatch(/^application\/json/);
  });

  it("refuses a form post with no body with its own page and code", async () => {
    const login = await h.app.inject({ method: "POST", url: "/login" });
    expect(login.statusCode).toBe(403);
    expect(login.headers["content-type"]).toMatch(/^text\/html/);
    expect(login.headers["x-srvutil-error-code"]).toBeDefined();
    const resend = await h.app.inject({
      method: "POST",
      url: `/reports/${REPORT_WEEK}/resend`,
      headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    expect(resend.statusCode).toBe(403);
    expect(resend.headers["content-type"]).toMatch(/^text\/html/);
  });

  it("lists the same paths in the OpenAPI document as before the schemas (the alerts pages and API, enrolment, the agent downloads and the server tags form added since)", async () => {
    const doc = (await h.app.inject("/api/v1/openapi.json")).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/",
      "/admin/add-server",
      "/admin/add-server/revoke",
      "/admin/agent-updates",
      "/admin/groups",
      "/admin/tokens",
      "/admin/tokens/revoke",
      "/admin/users",
      "/admin/users/remove",
      "/agent/manifest.json",
      "/agent/{platform}",
      "/alerts",
      "/alerts/ack",
      "/alerts/channels",
      "/alerts/channels/test",
      "/alerts/silences",
      "/alerts/silences/end",
      "/api/v1/agent/whoami",
      "/api/v1/alerts",
      "/api/v1/collectd",
      "/api/v1/enrol",
      "/api/v1/metrics",
      "/api/v1/openapi.json",
      "/api/v1/prometheus/write",
      "/api/v1/scrape/targets",
      "/api/v1/servers",
      "/api/v1/servers/{name}/samples",
      "/api/v1/telegraf",
      "/assets/{file}",
      "/favicon.ico",
      "/healthz",
      "/install.ps1",
      "/install.sh",
      "/login",
      "/logout",
      "/metrics",
      "/readyz",
      "/reports",
      "/reports/{week}",
      "/reports/{week}/resend",
      "/reports/{week}/{file}",
      "/servers/{name}",
      "/servers/{name}/tags",
      "/v1/metrics",
    ]);
  });
});
