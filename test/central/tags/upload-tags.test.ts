import { afterEach, describe, expect, it } from "vitest";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { addUser } from "../../../src/central/dashboard/users.js";
import { AgentTagRecorder } from "../../../src/central/ingest/tags.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { TagStore } from "../../../src/central/storage/tag-store.js";
import { type MetricRow, serializeMetricsCsv } from "../../../src/protocol/index.js";
import { httpRequest } from "../../helpers/http.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";
import { ADMIN, DashboardClient } from "../dashboard/http-client.js";

/**
 * Tags over the real upload route and dashboard, on both backends, with
 * `central serve` in-process on loopback and the real clock: an upload's
 * X-Srvutil-Tags are stored and shown; a bad header is refused with
 * SRVUTIL_E_BAD_TAGS and nothing of the upload is stored; an admin's central
 * tag wins over the agent's and both are shown; the fleet filters by tag,
 * escaped; an unchanged set does not reach the store.
 */
const BACKENDS = await storeBackends();

function rows(server: string, now: number): MetricRow[] {
  const ts = Math.floor(now / 60_000) * 60_000 - 60_000;
  return [
    {
      timestamp: ts,
      server,
      cpuPercent: 12.5,
      cpuPeakPercent: 40,
      intervalSeconds: 60,
      memTotalBytes: 8_000_000_000,
      memUsedBytes: 3_000_000_000,
      memAvailableBytes: 5_000_000_000,
      diskMount: "/",
      diskTotalBytes: 100_000_000_000,
      diskUsedBytes: 40_000_000_000,
      diskFreeBytes: 60_000_000_000,
    },
  ];
}

describe.each(BACKENDS)("tags over HTTP: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  let central: RunningCentral | undefined;
  afterEach(async () => {
    await central?.close();
    await t?.cleanup();
    central = undefined;
    t = undefined;
  });

  const start = async (ctx: { skip: (why: string) => void }) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    central = await startCentral(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: t.dir,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
      }),
      { store: t.store },
    );
    await addUser(t.store.users, { ...ADMIN, role: "admin", now: Date.now() });
    return { store: t.store, url: central.url };
  };

  const upload = (url: string, token: string, server: string, tags: string | null) =>
    httpRequest(`${url}/api/v1/metrics`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "text/csv",
        ...(tags === null ? {} : { "x-srvutil-tags": tags }),
      },
      body: serializeMetricsCsv(rows(server, Date.now())),
    });

  it("stores an upload's tags, shows them as chips, and filters the fleet by one", async (ctx) => {
    const { store, url } = await start(ctx);
    const web = await createAgentToken(store, "web-01");
    const search = await createAgentToken(store, "web-02");
    expect((await upload(url, web, "web-01", "team=payments, env=prod")).status).toBe(201);
    expect((await upload(url, search, "web-02", "team=search")).status).toBe(201);
    expect((await store.tags.current("web-01")).map((r) => [r.source, r.key, r.value])).toEqual([
      ["agent", "env", "prod"],
      ["agent", "team", "payments"],
    ]);

    const browser = new DashboardClient(url);
    await browser.signIn(ADMIN);
    const fleet = await browser.get("/");
    expect(fleet.status).toBe(200);
    expect(fleet.text).toContain('href="/?tag=team%3Dpayments"');
    expect(fleet.text).toContain(">team=search</a>");
    const filtered = await browser.get(`/?tag=${encodeURIComponent("team=payments")}`);
    expect(filtered.text).toContain('href="/servers/web-01"');
    expect(filtered.text).not.toContain('href="/servers/web-02"');
    expect(filtered.text).toContain("1 of 2 servers");
    // Any value of a key; and a hostile filter comes back escaped, matching nothing.
    expect((await browser.get("/?tag=team")).text).toContain("2 of 2 servers");
    const hostile = await browser.get(`/?tag=${encodeURIComponent('"><script>x</script>')}`);
    expect(hostile.text).not.toContain("<script>x</script>");
    expect(hostile.text).toContain("&lt;script&gt;");
    expect(hostile.text).toContain("0 of 2 servers");
  });

  it("refuses a malformed X-Srvutil-Tags with SRVUTIL_E_BAD_TAGS and stores nothing of the upload", async (ctx) => {
    const { store, url } = await start(ctx);
    const token = await createAgentToken(store, "web-01");
    for (const bad of [
      "team=pay ments",
      "team",
      "=x",
      "a=1,a=2",
      Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(","),
    ]) {
      const r = await upload(url, token, "web-01", bad);
      expect(r.status, bad).toBe(400);
      expect(JSON.parse(r.text)).toMatchObject({ code: "SRVUTIL_E_BAD_TAGS", reason: "bad_tags" });
    }
    const r = await upload(url, token, "web-01", "team=ok,bad key=x,env=p@d");
    // Every problem named in one answer.
    expect(JSON.parse(r.text).error).toMatch(/bad key.*p@d/);
    expect(await store.listServers()).toEqual([]);
    expect(await store.tags.current()).toEqual([]);
    expect(await store.tags.during(0, Date.now() + 60_000)).toEqual([]);
    // The refusal is the server's last upload error, where the fleet page shows it.
    const inputs = await store.serverInputs.list();
    expect(inputs[0]?.lastError?.code).toBe("SRVUTIL_E_BAD_TAGS");
  });

  it("lets an admin's central tag win on the server page, showing the agent's value too", async (ctx) => {
    const { store, url } = await start(ctx);
    const token = await createAgentToken(store, "web-01");
    expect((await upload(url, token, "web-01", "team=payments,env=prod")).status).toBe(201);
    const browser = new DashboardClient(url);
    await browser.signIn(ADMIN);
    await browser.get("/servers/web-01");
    // Without the CSRF token: refused, nothing saved.
    const forged = await browser.postRaw("/servers/web-01/tags", "set=team%3Dbilling");
    expect(forged.status).toBe(403);
    expect((await store.tags.current("web-01")).filter((r) => r.source === "central")).toEqual([]);

    const saved = await browser.post("/servers/web-01/tags", { set: "team=billing site=fra", unset: "" });
    expect(saved.status).toBe(200);
    expect(saved.text).toContain("Tags saved.");
    const page = (await browser.get("/servers/web-01")).text;
    const section = page.slice(page.indexOf('id="tags-h"'));
    expect(section).toMatch(
      /<th scope="row">team<\/th><td><a[^>]*>billing<\/a><\/td><td>central<\/td><td>agent declares payments<\/td>/,
    );
    expect(section).toMatch(/<th scope="row">env<\/th><td><a[^>]*>prod<\/a><\/td><td>agent<\/td>/);
    // The read API gives the tags in force.
    const viewer = await createViewerToken(store, "grafana");
    const api = await httpRequest(`${url}/api/v1/servers`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(api.status).toBe(200);
    expect((JSON.parse(api.text) as { servers: { name: string; tags: unknown }[] }).servers).toEqual([
      expect.objectContaining({ name: "web-01", tags: { env: "prod", site: "fra", team: "billing" } }),
    ]);
    // The agent's next upload changes nothing of the central's tags.
    expect((await upload(url, token, "web-01", "team=payments,env=prod")).status).toBe(201);
    const fleet = await browser.get(`/?tag=${encodeURIComponent("team=billing")}`);
    expect(fleet.text).toContain('href="/servers/web-01"');
    expect((await browser.get(`/?tag=${encodeURIComponent("team=payments")}`)).text).toContain(
      "0 of 1 servers",
    );

    // A bad tag in the form: refused with its reason, nothing saved.
    const refused = await browser.post("/servers/web-01/tags", { set: "team=bad value!", unset: "" });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("Not saved:");
    // Unset: the agent's value applies again.
    await browser.post("/servers/web-01/tags", { set: "", unset: "team" });
    const after = (await browser.get("/servers/web-01")).text;
    expect(after).toMatch(/<th scope="row">team<\/th><td><a[^>]*>payments<\/a><\/td><td>agent<\/td>/);
  });
});

describe.each(BACKENDS)("AgentTagRecorder: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("does not write an unchanged set: it is not even offered to the store", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    const store: Storage = t.store;
    let calls = 0;
    // The real store, counted: every call is forwarded unchanged.
    const counted: TagStore = {
      replace: (...a) => {
        calls++;
        return store.tags.replace(...a);
      },
      edit: (...a) => store.tags.edit(...a),
      current: (...a) => store.tags.current(...a),
      during: (...a) => store.tags.during(...a),
    };
    const recorder = new AgentTagRecorder(counted);
    expect(await recorder.observe("web-01", { team: "payments" })).toBe(true);
    const [first] = await store.tags.current("web-01");
    for (let i = 0; i < 5; i++) expect(await recorder.observe("web-01", { team: "payments" })).toBe(false);
    expect(calls).toBe(1);
    expect(await store.tags.current("web-01")).toEqual([first]);
    // A change is written at once.
    expect(await recorder.observe("web-01", { team: "search" })).toBe(true);
    expect(calls).toBe(2);
    expect((await store.tags.current("web-01")).map((r) => r.value)).toEqual(["search"]);
    // Another instance's recorder (empty memory) asks the store, which writes nothing for the same set.
    const other = new AgentTagRecorder(counted);
    const rowsBefore = await store.tags.during(0, Date.now() + 60_000);
    expect(await other.observe("web-01", { team: "search" })).toBe(true);
    expect(await store.tags.during(0, Date.now() + 60_000)).toEqual(rowsBefore);
  });
});
