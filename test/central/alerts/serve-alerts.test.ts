/**
 * Alerts end to end in `central serve`, on SQLite and PostgreSQL: samples
 * uploaded over HTTP with the real clock, the serve's own evaluator and
 * outbox, a signed webhook received on loopback. The disk-fill scenario: a
 * disk that grows steadily pages "full within 24 h" before it crosses the
 * report's critical threshold, and resolves once it is cleaned up.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { WebhookPayload } from "../../../src/central/alerts/channels/webhook.js";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import { postMetrics } from "../../../src/demo/upload.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { storeBackends } from "../../helpers/store-backends.js";

const BACKENDS = await storeBackends();
const MIN = 60_000;
const GIB = 1024 ** 3;
const SECRET = "whsec-serve-alerts";

interface Received {
  payload: WebhookPayload;
  signatureOk: boolean;
}

async function webhookReceiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const ts = String(req.headers["x-srvutil-timestamp"]);
      const expected = `sha256=${createHmac("sha256", SECRET).update(`${ts}.${body}`).digest("hex")}`;
      received.push({
        payload: JSON.parse(body) as WebhookPayload,
        signatureOk: req.headers["x-srvutil-signature"] === expected,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function sample(server: string, timestamp: number, usedVar: number, cpu = 10): MetricRow[] {
  const base = {
    timestamp,
    server,
    cpuPercent: cpu,
    cpuPeakPercent: null,
    intervalSeconds: 600,
    memTotalBytes: 16 * GIB,
    memUsedBytes: 5 * GIB,
    memAvailableBytes: 11 * GIB,
  };
  return [
    { ...base, diskMount: "/", diskTotalBytes: 50 * GIB, diskUsedBytes: 10 * GIB, diskFreeBytes: 40 * GIB },
    {
      ...base,
      diskMount: "/var",
      diskTotalBytes: 100 * GIB,
      diskUsedBytes: usedVar,
      diskFreeBytes: 100 * GIB - usedVar,
    },
  ];
}

describe.each(BACKENDS)("alerts in central serve on $name", ({ skipReason, make }) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-serve-alerts-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("a steadily filling disk pages before the critical threshold, once, and resolves after the clean-up", async () => {
    const hook = await webhookReceiver();
    const alertsFile = path.join(dir, `alerts-${Date.now()}.json`);
    writeFileSync(
      alertsFile,
      JSON.stringify({
        evaluate_seconds: 3600,
        channels: [{ name: "hook", type: "webhook", url: hook.url, secret_env: "HOOK_SECRET" }],
        resolve_after_minutes: 0,
        rules: { disk_full_soon: { for_minutes: 0 } },
      }),
    );
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_ALERTS_CONFIG: alertsFile,
      SRVUTIL_PUBLIC_URL: "https://srvutil.example.com",
    });
    const t = await make();
    // The evaluator keeps the open episodes it committed and gets them back from readOpen while
    // nothing else wrote: each time it does, they must be what the database holds.
    const readOpen = t.store.alerts.readOpen.bind(t.store.alerts);
    let handedBack = 0;
    t.store.alerts.readOpen = async (known) => {
      const got = await readOpen(known);
      if (known != null && got === known) {
        handedBack++;
        expect(known.episodes).toEqual((await readOpen()).episodes);
      }
      return got;
    };
    const central = await startCentral(config, {
      store: t.store,
      env: { HOOK_SECRET: SECRET },
      alertSendPollMs: 60_000,
    });
    // Its own evaluation at start first: it must not take the notices of this test's uploads.
    await central.alerts.settled();
    try {
      const store = t.store;
      const now = Date.now();
      // fill-01: /var from 40 GiB to 78 GiB of 100 over the last 24 hours, one sample every 10 minutes.
      const fill: MetricRow[] = [];
      for (let k = 144; k >= 0; k--)
        fill.push(
          ...sample("fill-01", now - k * 10 * MIN - MIN, 40 * GIB + Math.round(((144 - k) * 38 * GIB) / 144)),
        );
      // steady-01: the same disk, flat. gone-01: nothing for three hours.
      const steady: MetricRow[] = [];
      for (let k = 144; k >= 0; k--) steady.push(...sample("steady-01", now - k * 10 * MIN - MIN, 60 * GIB));
      // hot-01: CPU at 95 % for the last 70 minutes (sustained: the rule wants 60), after a spike to 99 % before.
      const hot: MetricRow[] = [];
      for (let k = 144; k >= 0; k--)
        hot.push(...sample("hot-01", now - k * 10 * MIN - MIN, 60 * GIB, k <= 7 ? 95 : k === 20 ? 99 : 20));
      const gone = [
        ...sample("gone-01", now - 3 * 60 * MIN - 20 * MIN, 10 * GIB),
        ...sample("gone-01", now - 3 * 60 * MIN, 10 * GIB),
      ];
      for (const [server, rows] of [
        ["fill-01", fill],
        ["steady-01", steady],
        ["gone-01", gone],
        ["hot-01", hot],
      ] as const) {
        const token = await createAgentToken(store, server);
        const answer = await postMetrics(central.url, token, rows);
        expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      }
      await store.rollups.refresh();

      const first = await central.alerts.evaluateOnce();
      expect(first).toMatchObject({ committed: true, notices: 3, batches: 1 });
      expect(await central.alerts.sendDue()).toBe(1);
      expect(hook.received).toHaveLength(1);
      const fired = hook.received[0]!;
      expect(fired.signatureOk).toBe(true);
      expect(fired.payload.alerts.map((a) => [a.kind, a.server, a.rule, a.mount, a.severity])).toEqual([
        ["firing", "fill-01", "disk_full_soon", "/var", "critical"],
        ["firing", "gone-01", "server_silent", "", "critical"],
        ["firing", "hot-01", "cpu_pressure", "", "critical"],
      ]);
      expect(fired.payload.alerts[2]!.summary).toMatch(
        /^CPU above 90 % for the last 1 h 00 min \(lowest 95 %\)$/,
      );
      const disk = fired.payload.alerts[0]!;
      // 22 GiB free at +1.58 GiB/h: about 14 hours, at 78 %, below the report's critical 95 % (and warning 85 %).
      expect(disk.summary).toMatch(
        /^\/var full in about 1[34] hours \(78 % now, \+1\.6 GiB\/h over \d+ hours, fit R² 1\.00\)$/,
      );
      expect(disk.url).toBe("https://srvutil.example.com/servers/fill-01");

      // Nothing changed: nothing more is sent, however often it is evaluated.
      expect(await central.alerts.evaluateOnce()).toMatchObject({ committed: true, notices: 0 });
      expect(await central.alerts.sendDue()).toBe(0);
      expect(hook.received).toHaveLength(1);

      // Cleaned up: /var drops to 20 GiB; the fill line starts over and the alert resolves.
      const token = await createAgentToken(store, "fill-01");
      expect((await postMetrics(central.url, token, sample("fill-01", Date.now(), 20 * GIB))).status).toBe(
        201,
      );
      await store.rollups.refresh();
      expect(await central.alerts.evaluateOnce()).toMatchObject({ committed: true, notices: 1 });
      expect(await central.alerts.sendDue()).toBe(1);
      expect(hook.received[1]!.payload.alerts.map((a) => [a.kind, a.server, a.rule])).toEqual([
        ["resolved", "fill-01", "disk_full_soon"],
      ]);
      expect(hook.received[1]!.payload.alerts[0]!.ends_at).not.toBeNull();

      const history = await store.alerts.list({ server: "fill-01" });
      expect(history.map((e) => [e.rule, e.state])).toEqual([["disk_full_soon", "resolved"]]);
      expect((await store.alerts.readOpen()).episodes.map((e) => [e.server, e.rule, e.state]).sort()).toEqual(
        [
          ["gone-01", "server_silent", "firing"],
          ["hot-01", "cpu_pressure", "firing"],
        ],
      );
      // After the resolve: the kept episodes are handed back, and they are what the database holds.
      expect(await central.alerts.evaluateOnce()).toMatchObject({ committed: true, notices: 0 });
      expect(handedBack).toBeGreaterThanOrEqual(2);
      const metrics = await (await fetch(`${central.url}/metrics`)).text();
      expect(metrics).toContain('srvutil_alert_notifications_total{channel="hook",outcome="sent"} 2');
    } finally {
      await central.close();
      await t.cleanup();
      await hook.close();
    }
  }, 60_000);
});
