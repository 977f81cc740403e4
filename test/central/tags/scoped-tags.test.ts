import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { addUser } from "../../../src/central/dashboard/users.js";
import { type MetricRow, serializeMetricsCsv } from "../../../src/protocol/index.js";
import { httpRequest } from "../../helpers/http.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";
import { DashboardClient } from "../dashboard/http-client.js";

/**
 * Scoped viewers of a group that selects by tags (`central serve` on
 * loopback, both backends, the real clock): a viewer token and a dashboard
 * user limited to "payments" see the servers tagged team=payments, by the
 * agent's tags at start, and no other server, by URL either.
 */
const BACKENDS = await storeBackends();
const VIEWER = { name: "pat", password: "payments viewer 1" };

function row(server: string): MetricRow {
  return {
    timestamp: Math.floor(Date.now() / 60_000) * 60_000 - 60_000,
    server,
    cpuPercent: 10,
    cpuPeakPercent: 20,
    intervalSeconds: 60,
    memTotalBytes: 8_000_000_000,
    memUsedBytes: 2_000_000_000,
    memAvailableBytes: 6_000_000_000,
    diskMount: "/",
    diskTotalBytes: 100_000_000_000,
    diskUsedBytes: 30_000_000_000,
    diskFreeBytes: 70_000_000_000,
  };
}

describe.each(BACKENDS)("scoped viewers of a tag-selecting group: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  let c: RunningCentral | undefined;
  afterEach(async () => {
    await c?.close();
    await t?.cleanup();
    c = undefined;
    t = undefined;
  });

  it("shows a viewer of team=payments its tagged servers only", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    const groupsFile = path.join(t.dir, "groups.json");
    writeFileSync(
      groupsFile,
      JSON.stringify({ groups: [{ name: "payments", select: "team=payments", to: ["p@example.com"] }] }),
    );
    const env = {
      SRVUTIL_DATA_DIR: t.dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_GROUPS_FILE: groupsFile,
    };
    // The uploads' tags are stored first, so the central reads them at start.
    const first = await startCentral(loadCentralConfig(env), { store: t.store });
    for (const [server, tags] of [
      ["pay-01", "team=payments"],
      ["search-01", "team=search"],
    ] as const) {
      const token = await createAgentToken(t.store, server);
      const up = await httpRequest(`${first.url}/api/v1/metrics`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "text/csv", "x-srvutil-tags": tags },
        body: serializeMetricsCsv([row(server)]),
      });
      expect(up.status).toBe(201);
    }
    await first.close();
    c = await startCentral(loadCentralConfig(env), { store: t.store });

    const viewerToken = await createViewerToken(t.store, "pay-reader", ["payments"]);
    const list = await httpRequest(`${c.url}/api/v1/servers`, {
      headers: { authorization: `Bearer ${viewerToken}` },
    });
    expect(list.status).toBe(200);
    expect((JSON.parse(list.text) as { servers: { name: string }[] }).servers.map((s) => s.name)).toEqual([
      "pay-01",
    ]);

    await addUser(t.store.users, { ...VIEWER, role: "viewer", groups: ["payments"], now: Date.now() });
    const browser = new DashboardClient(c.url);
    expect((await browser.signIn(VIEWER)).status).toBe(303);
    const fleet = await browser.get("/");
    expect(fleet.text).toContain('href="/servers/pay-01"');
    expect(fleet.text).not.toContain("search-01");
    expect((await browser.get("/servers/pay-01")).status).toBe(200);
    expect((await browser.get("/servers/search-01")).status).toBe(404);
  });
});
