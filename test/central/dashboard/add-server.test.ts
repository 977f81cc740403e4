/**
 * The dashboard's Add server page (/admin/add-server) over real sockets, on
 * SQLite and PostgreSQL, with the real clock: an admin creates an enrolment
 * token and gets the command per platform once; the list shows tokens (never
 * a secret) and the enrolments made with them; revoke; a viewer, a visitor
 * who is not signed in and a form without its CSRF token are refused, and
 * bad or hostile input is refused or escaped with nothing stored.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hashSecret } from "../../../src/central/auth/tokens.js";
import { httpRequest } from "../../helpers/http.js";
import { ADMIN, type DashboardHarness, dashboardBackends, VIEWER } from "./harness.js";
import { DashboardClient } from "./http-client.js";

const backends = await dashboardBackends();
const SRVE = /srve_[0-9a-f]{12}_[0-9a-f]{64}/g;

async function admin(base: string): Promise<DashboardClient> {
  const c = new DashboardClient(base);
  const signedIn = await c.signIn(ADMIN);
  expect(signedIn.status).toBe(303);
  return c;
}

/** POST /api/v1/enrol as an agent's `install --enrol` does. */
const enrol = (base: string, token: string, server: string) =>
  httpRequest(`${base}/api/v1/enrol`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ server }),
  });

/** The text of the page's <code id=ID>, unescaped as a browser shows it. */
function code(page: string, id: string): string | undefined {
  const m = new RegExp(`<code id="${id}">([^<]*)</code>`).exec(page);
  return m?.[1]
    ?.replace(/&amp;/g, "&")
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"');
}

describe.each(backends)("Add server page: %s", (_name, skipReason, make) => {
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

  it("creates a token and shows it once, in the command per platform; the list and the log never show the secret", async () => {
    const c = await admin(base);
    const page = await c.get("/admin/add-server");
    expect(page.status).toBe(200);
    expect(page.text).toContain('<a href="/admin/add-server" aria-current="page">Add server</a>');
    // No SRVUTIL_PUBLIC_URL here: the page says the address it was opened at is used.
    expect(page.text).toContain(
      `SRVUTIL_PUBLIC_URL is not set: the commands use the address this page was opened at, <code>${base}</code>`,
    );
    // Loopback: no plain-http warning.
    expect(page.text).not.toContain("The commands use plain http://");

    const before = Date.now();
    const created = await c.post("/admin/add-server", {
      servers: "web-*",
      uses: "3",
      expires: "2h",
      tags: "env=prod, team=web",
      allow_reenrol: "yes",
    });
    expect(created.status, created.text.slice(0, 500)).toBe(201);
    expect(created.headers["cache-control"]).toBe("no-store");
    const shown = [...new Set(created.text.match(SRVE))];
    expect(shown).toHaveLength(1);
    const token = shown[0]!;
    const [, id, secret] = token.split("_") as [string, string, string];
    expect(code(created.text, "cmd-unix")).toBe(
      `curl -fsSL ${base}/install.sh | sudo sh -s -- --enrol ${token}`,
    );
    expect(code(created.text, "cmd-windows")).toBe(
      `& ([scriptblock]::Create((irm ${base}/install.ps1))) -Enrol ${token}`,
    );
    expect(created.text).toContain(`id="cmd-token" class="token" readonly value="${token}"`);
    expect(
      created.text.match(
        /<button type="button" class="copy" data-copy="cmd-(unix|windows|token)" hidden>Copy<\/button>/g,
      ),
    ).toHaveLength(3);
    expect(created.text).toContain('href="/agent/manifest.json"');

    const record = await h!.store.enrolments.find(id);
    expect(record).toMatchObject({
      servers: "web-*",
      maxUses: 3,
      uses: 0,
      allowReenrol: true,
      tags: { env: "prod", team: "web" },
      createdBy: ADMIN.name,
      revokedAt: null,
    });
    expect(record!.secretHash).toBe(hashSecret(secret));
    expect(record!.expiresAt).toBeGreaterThanOrEqual(before + 2 * 3600_000);
    expect(record!.expiresAt).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    const log = readFileSync(h!.logFile, "utf8");
    expect(log).toContain("enrolment token created");
    expect(log).toContain(id);
    expect(log).not.toContain(secret);

    // Shown once: the page read again lists the token by id, never its secret.
    const again = await c.get("/admin/add-server");
    expect(again.text.match(SRVE)).toBeNull();
    expect(again.text).not.toContain(secret);
    const row = new RegExp(`<tr><td><code>${id}</code></td>(.*?)</tr>`, "s").exec(again.text);
    expect(row).not.toBeNull();
    expect(row![1]).toContain('<th scope="row">web-*</th>');
    expect(row![1]).toContain("0 of 3");
    expect(row![1]).toContain("env=prod, team=web");
    expect(row![1]).toContain(`<button type="submit" class="danger">Revoke ${id}</button>`);

    // A server enrols with it: the use is counted and the enrolment listed.
    const answer = await enrol(base, token, "web-41");
    expect(answer.status, answer.text).toBe(201);
    const after = await c.get("/admin/add-server");
    expect(new RegExp(`<tr><td><code>${id}</code></td>.*?1 of 3`, "s").test(after.text)).toBe(true);
    expect(after.text).toMatch(
      new RegExp(
        `<tr><th scope="row"><a href="/servers/web-41">web-41</a></th><td>[^<]+</td><td><code>${id}</code></td><td>127\\.0\\.0\\.1</td>`,
      ),
    );
  });

  it("revokes a token: it enrols no one any more; an unknown id is a 404", async () => {
    const c = await admin(base);
    await c.get("/admin/add-server");
    const created = await c.post("/admin/add-server", { servers: "db-*", uses: "1", expires: "24h" });
    expect(created.status).toBe(201);
    const token = created.text.match(SRVE)![0];
    const id = token.split("_")[1]!;
    const revoked = await c.post("/admin/add-server/revoke", { id });
    expect(revoked.status).toBe(200);
    expect(revoked.text).toContain(`Revoked enrolment token ${id}: it enrols no server any more.`);
    expect((await h!.store.enrolments.find(id))!.revokedAt).not.toBeNull();
    expect(
      new RegExp(
        `<tr><td><code>${id}</code></td>.*?<td>revoked [0-9-]+ [0-9:]+</td>\\n<td></td></tr>`,
        "s",
      ).test(revoked.text),
    ).toBe(true);
    const refused = await enrol(base, token, "db-01");
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).code).toBe("SRVUTIL_E_ENROL_TOKEN_REVOKED");
    expect(readFileSync(h!.logFile, "utf8")).toContain(`"enrolment token revoked"`);

    for (const bad of [id, "0123456789ab", "x\u0000y"]) {
      const none = await c.post("/admin/add-server/revoke", { id: bad });
      expect(none.status, bad).toBe(404);
      expect(none.text).toContain("No active enrolment token");
    }
  });

  it("refuses bad input with the form still filled in, and stores nothing", async () => {
    const c = await admin(base);
    await c.get("/admin/add-server");
    const count = async () => (await h!.store.enrolments.list()).length;
    const n = await count();
    const cases: [Record<string, string>, string][] = [
      [
        { servers: "web/*", uses: "1", expires: "24h" },
        "Servers &#39;web/*&#39;: expected a glob of server names",
      ],
      [{ servers: "", uses: "1", expires: "24h" }, "Servers &#39;&#39;: expected a glob"],
      [{ servers: "web-*", uses: "0", expires: "24h" }, "Uses: expected a whole number from 1 to 100000"],
      [{ servers: "web-*", uses: "two", expires: "24h" }, "Uses: expected a whole number"],
      [{ servers: "web-*", uses: "1", expires: "5y" }, "Expires after &#39;5y&#39;: expected a duration"],
      [
        { servers: "web-*", uses: "1", expires: "400d" },
        "Expires after: expected a duration from 1m to 365d",
      ],
      [
        { servers: "web-*", uses: "1", expires: "24h", tags: "novalue" },
        "Tag &#39;novalue&#39;: expected KEY=VALUE",
      ],
    ];
    for (const [form, message] of cases) {
      const res = await c.post("/admin/add-server", form);
      expect(res.status, JSON.stringify(form)).toBe(400);
      expect(res.headers["x-srvutil-error-code"]).toBe("SRVUTIL_E_BAD_REQUEST");
      expect(res.text).toContain(message);
      expect(res.text).toContain(
        `id="e-servers" name="servers" required maxlength="253" value="${form.servers!.replace(/'/g, "&#39;")}"`,
      );
      expect(res.text).toContain(`id="e-expires" name="expires" required size="6" value="${form.expires}"`);
      expect(res.text.match(SRVE)).toBeNull();
    }
    expect(await count()).toBe(n);
  });

  it("escapes every stored and echoed string (a hostile glob, tags, the user's input)", async () => {
    const c = await admin(base);
    await c.get("/admin/add-server");
    const hostile = '<script>alert(1)</script>"';
    const refused = await c.post("/admin/add-server", { servers: hostile, uses: "1", expires: "1h" });
    expect(refused.status).toBe(400);
    expect(refused.text).not.toContain("<script>alert(1)");
    expect(refused.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;");
    // Tag values may hold anything: stored as given, shown escaped.
    const created = await c.post("/admin/add-server", {
      servers: "app-*",
      uses: "1",
      expires: "1h",
      tags: `owner=<img src=x onerror=alert(1)>`,
    });
    expect(created.status).toBe(201);
    const listed = await c.get("/admin/add-server");
    expect(listed.text).not.toContain("<img src=x");
    expect(listed.text).toContain("owner=&lt;img src=x onerror=alert(1)&gt;");
  });

  it("refuses a viewer, a visitor who is not signed in, and a form without its CSRF token or from another site", async () => {
    const n = (await h!.store.enrolments.list()).length;
    const viewer = new DashboardClient(base);
    expect((await viewer.signIn(VIEWER)).status).toBe(303);
    const fleet = await viewer.get("/");
    expect(fleet.text).not.toContain("/admin/add-server");
    const page = await viewer.get("/admin/add-server");
    expect(page.status).toBe(403);
    expect(page.text).toContain("This page needs the admin role.");
    expect(page.text.match(SRVE)).toBeNull();
    const post = await viewer.post("/admin/add-server", { servers: "*", uses: "1", expires: "1h" });
    expect(post.status).toBe(403);
    expect(post.headers["x-srvutil-error-code"]).toBe("SRVUTIL_E_FORBIDDEN");

    const stranger = new DashboardClient(base);
    const away = await stranger.get("/admin/add-server");
    expect(away.status).toBe(303);
    expect(away.headers.location).toBe("/login?next=%2Fadmin%2Fadd-server");
    expect(
      (await stranger.post("/admin/add-server", { servers: "*", uses: "1", expires: "1h" })).status,
    ).toBe(403);

    const c = await admin(base);
    await c.get("/admin/add-server");
    const noCsrf = await c.postRaw("/admin/add-server", "servers=*&uses=1&expires=1h");
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.text).toContain("missing or wrong CSRF token");
    const wrongCsrf = await c.post("/admin/add-server", {
      _csrf: "x".repeat(43),
      servers: "*",
      uses: "1",
      expires: "1h",
    });
    expect(wrongCsrf.status).toBe(403);
    const crossSite = await httpRequest(`${base}/admin/add-server`, {
      method: "POST",
      headers: {
        cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        origin: "https://evil.example",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ _csrf: c.csrf, servers: "*", uses: "1", expires: "1h" }).toString(),
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.text).toContain("origin https://evil.example is not this site");
    // Revoking is an admin action with a CSRF token too.
    const id = (await h!.store.enrolments.list())[0]!.tokenId;
    expect((await viewer.post("/admin/add-server/revoke", { id })).status).toBe(403);
    expect((await c.postRaw("/admin/add-server/revoke", `id=${id}`)).status).toBe(403);
    expect((await h!.store.enrolments.find(id))!.revokedAt).toBeNull();
    expect((await h!.store.enrolments.list()).length).toBe(n);
  });
});

describe.each(backends)("Add server page with SRVUTIL_PUBLIC_URL: %s", (_name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  let base = "";
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    h = await make({ clock: Date.now, publicUrl: "https://srvutil.example.com" });
    base = await h.listen();
  });
  afterAll(async () => h?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("names the configured URL in the commands, whatever address the page was opened at", async () => {
    const c = await admin(base);
    const page = await c.get("/admin/add-server");
    expect(page.text).not.toContain("SRVUTIL_PUBLIC_URL is not set");
    const created = await c.post("/admin/add-server", { servers: "*", uses: "1", expires: "30m" });
    expect(created.status).toBe(201);
    const token = created.text.match(SRVE)![0];
    expect(code(created.text, "cmd-unix")).toBe(
      `curl -fsSL https://srvutil.example.com/install.sh | sudo sh -s -- --enrol ${token}`,
    );
    expect(code(created.text, "cmd-windows")).toBe(
      `& ([scriptblock]::Create((irm https://srvutil.example.com/install.ps1))) -Enrol ${token}`,
    );
    expect(created.text).not.toContain(base);
  });
});
