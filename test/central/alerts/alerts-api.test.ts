/** GET /api/v1/alerts over loopback: viewer tokens only, the open alerts, silences in force, the history on request. */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { alertCommit, alertEpisode } from "../../helpers/alerts.js";

const HOUR = 3_600_000;

describe("GET /api/v1/alerts", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-alerts-api-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("answers viewer tokens with the open alerts and silences, and the history when asked", async () => {
    const central = await startCentral(
      loadCentralConfig({ SRVUTIL_DATA_DIR: dir, SRVUTIL_LISTEN: "127.0.0.1:0", SRVUTIL_REPORT_CRON: "off" }),
    );
    try {
      const store = central.store;
      const now = Date.now();
      const { version } = await store.alerts.readOpen();
      expect(
        await store.alerts.commitEvaluation(
          alertCommit(now, {
            expectedVersion: version,
            inserts: [
              alertEpisode(now, { server: "web-01", summary: "CPU <b>high</b>" }),
              alertEpisode(now, {
                server: "db-01",
                rule: "disk_nearly_full",
                mount: "/var",
                severity: "critical",
                state: "resolved",
                startedAt: now - 5 * HOUR,
                firingAt: now - 5 * HOUR,
                resolvedAt: now - 2 * HOUR,
              }),
            ],
          }),
        ),
      ).toBe(true);
      await store.alerts.addSilence({
        server: "db-*",
        rule: null,
        group: null,
        startsAt: now - HOUR,
        endsAt: now + HOUR,
        reason: "maintenance",
        createdBy: "ana",
        createdAt: now - HOUR,
      });
      const viewer = await createViewerToken(store, "grafana");
      const agent = await createAgentToken(store, "web-01");
      const get = (query: string, token: string | null) =>
        fetch(`${central.url}/api/v1/alerts${query}`, {
          headers: token === null ? {} : { authorization: `Bearer ${token}` },
        });

      expect((await get("", null)).status).toBe(401);
      expect((await get("", agent)).status).toBe(401);
      const open = await get("", viewer);
      expect(open.status).toBe(200);
      const body = (await open.json()) as {
        alerts: { server: string; state: string; mount: string | null; summary: string; firing_at: string }[];
        silences: { server: string; reason: string }[];
      };
      expect(body.alerts.map((a) => [a.server, a.state, a.mount, a.summary])).toEqual([
        ["web-01", "firing", null, "CPU <b>high</b>"],
      ]);
      expect(Math.abs(Date.parse(body.alerts[0]!.firing_at) - (now - 5 * 60_000))).toBeLessThan(1000);
      expect(body.silences.map((s) => [s.server, s.reason])).toEqual([["db-*", "maintenance"]]);

      const history = (await (await get("?history_hours=6", viewer)).json()) as {
        alerts: { server: string; state: string }[];
      };
      expect(history.alerts.map((a) => [a.server, a.state]).sort()).toEqual([
        ["db-01", "resolved"],
        ["web-01", "firing"],
      ]);
      const shorter = (await (await get("?history_hours=1", viewer)).json()) as {
        alerts: { server: string }[];
      };
      expect(shorter.alerts.map((a) => a.server)).toEqual(["web-01"]);
      for (const bad of ["?history_hours=0", "?history_hours=9999", "?history_hours=x"]) {
        const r = await get(bad, viewer);
        expect(r.status, bad).toBe(400);
        expect(((await r.json()) as { code: string }).code).toMatch(/^SRVUTIL_E_/);
      }
    } finally {
      await central.close();
    }
  });
});
