/**
 * The outbox of `central serve` against a channel that is down, on SQLite
 * and PostgreSQL, with the real clock and a short backoff: a 503 is retried
 * with doubling delays and arrives once when the receiver is back (the same
 * notification id at every attempt); a 400 fails at once; a receiver down
 * past retry_hours fails the row. Every outcome shows in listNotifications,
 * /metrics and the automation log. And a restart notifies nothing again:
 * a firing alert stays firing, and its reminder comes only after
 * reminder_hours.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WebhookPayload } from "../../../src/central/alerts/channels/webhook.js";
import type { AlertEpisode } from "../../../src/central/alerts/types.js";
import { startCentral } from "../../../src/central/central-process.js";
import { type CentralConfig, loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import type { StoredNotification } from "../../../src/central/storage/alert-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { postMetrics } from "../../../src/demo/upload.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { storeBackends, type TempStore } from "../../helpers/store-backends.js";
import { type Receiver, startReceiver } from "./http-receiver.js";

const BACKENDS = await storeBackends();
const GIB = 1024 ** 3;
const HOUR = 3_600_000;
const REMINDER_HOURS = 0.003;
const RETRY = { initialDelayMs: 300, maxDelayMs: 1_200 };

function silentSamples(server: string, now: number): MetricRow[] {
  return [now - 3 * HOUR - 20 * 60_000, now - 3 * HOUR].map((timestamp) => ({
    timestamp,
    server,
    cpuPercent: 10,
    cpuPeakPercent: null,
    intervalSeconds: 600,
    memTotalBytes: 16 * GIB,
    memUsedBytes: 5 * GIB,
    memAvailableBytes: 11 * GIB,
    diskMount: "/",
    diskTotalBytes: 50 * GIB,
    diskUsedBytes: 10 * GIB,
    diskFreeBytes: 40 * GIB,
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(BACKENDS)(
  "alert notifications through a channel that is down, on $name",
  ({ skipReason, make }) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-outbox-retry-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    let t: TempStore | undefined;
    let hook: Receiver | undefined;
    beforeEach((ctx) => {
      if (skipReason !== undefined) ctx.skip(skipReason);
    });
    afterEach(async () => {
      await hook?.close();
      await t?.cleanup();
    });

    const setUp = async (alerts: object): Promise<{ config: CentralConfig; store: Storage }> => {
      hook = await startReceiver(() => ({ status: 204 }));
      const dataDir = mkdtempSync(path.join(dir, "data-"));
      const alertsFile = path.join(dataDir, "alerts.json");
      writeFileSync(
        alertsFile,
        JSON.stringify({
          evaluate_seconds: 3600,
          channels: [{ name: "hook", type: "webhook", url: `${hook.origin}/hook` }],
          ...alerts,
        }),
      );
      const config = loadCentralConfig({
        SRVUTIL_DATA_DIR: dataDir,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
        SRVUTIL_ALERTS_CONFIG: alertsFile,
      });
      t = await make();
      return { config, store: t.store };
    };
    const upload = async (store: Storage, url: string, server: string) => {
      const answer = await postMetrics(
        url,
        await createAgentToken(store, server),
        silentSamples(server, Date.now()),
      );
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    };
    /**
     * evaluateOnce, again if the serve's own first evaluation (started with
     * it, on an empty store) committed in between, as evaluate() does.
     */
    const evaluate = async (central: Awaited<ReturnType<typeof startCentral>>) => {
      const r = await central.alerts.evaluateOnce();
      return r.committed ? r : central.alerts.evaluateOnce();
    };
    const newest = async (store: Storage): Promise<StoredNotification> =>
      (await store.alerts.listNotifications({ limit: 1 }))[0]!;
    const untilDue = async (store: Storage) => {
      const wait = (await newest(store)).nextAttemptAt - Date.now();
      if (wait > 0) await sleep(wait + 5);
    };

    it("retries a 503 with backoff, delivers once when back, fails on a 400 and past retry_hours, and shows it", async () => {
      // retry_hours 0.001: 3.6 s of retries.
      const { config, store } = await setUp({ retry_hours: 0.001 });
      const central = await startCentral(config, { store, alertSendPollMs: 600_000, alertSendRetry: RETRY });
      // Its own evaluation at start first: it must not take the notices of this test's uploads.
      await central.alerts.settled();
      try {
        const receiver = hook!;
        receiver.reply = () => ({ status: 503, body: "maintenance" });
        await upload(store, central.url, "gone-01");
        expect(await evaluate(central)).toMatchObject({ committed: true, notices: 1 });

        const t1 = Date.now();
        expect(await central.alerts.sendDue()).toBe(1);
        const first = await newest(store);
        expect(first).toMatchObject({ state: "pending", attempts: 1, leaseOwner: null });
        expect(first.lastError).toMatch(/503/);
        expect(first.nextAttemptAt - t1).toBeGreaterThanOrEqual(RETRY.initialDelayMs);
        expect(first.nextAttemptAt).toBeLessThanOrEqual(Date.now() + RETRY.initialDelayMs);
        // Not due yet: nothing is sent.
        expect(await central.alerts.sendDue()).toBe(0);
        expect(receiver.requests).toHaveLength(1);

        await untilDue(store);
        const t2 = Date.now();
        expect(await central.alerts.sendDue()).toBe(1);
        const second = await newest(store);
        expect(second).toMatchObject({ id: first.id, state: "pending", attempts: 2 });
        // The delay doubled.
        expect(second.nextAttemptAt - t2).toBeGreaterThanOrEqual(2 * RETRY.initialDelayMs);
        expect(second.nextAttemptAt).toBeLessThanOrEqual(Date.now() + 2 * RETRY.initialDelayMs);

        receiver.reply = () => ({ status: 204 });
        await untilDue(store);
        expect(await central.alerts.sendDue()).toBe(1);
        expect(await newest(store)).toMatchObject({
          id: first.id,
          state: "sent",
          attempts: 3,
          lastError: null,
        });
        expect(await central.alerts.sendDue()).toBe(0);
        // Three attempts of one notification, one accepted: the same id at each.
        expect(receiver.requests).toHaveLength(3);
        const ids = receiver.requests.map((r) => r.headers["x-srvutil-notification-id"]);
        expect(ids).toEqual([`srvutil-n${first.id}`, `srvutil-n${first.id}`, `srvutil-n${first.id}`]);
        const payload = JSON.parse(receiver.requests[2]!.body) as WebhookPayload;
        expect(payload.id).toBe(`srvutil-n${first.id}`);
        expect(payload.alerts.map((a) => [a.id, a.kind, a.server])).toEqual([
          [`srvutil-n${first.id}.1`, "firing", "gone-01"],
        ]);

        // A permanent refusal fails the row at the first attempt.
        receiver.reply = () => ({ status: 400, body: "unknown field" });
        await upload(store, central.url, "gone-02");
        expect(await evaluate(central)).toMatchObject({ committed: true, notices: 1 });
        expect(await central.alerts.sendDue()).toBe(1);
        const refused = await newest(store);
        expect(refused).toMatchObject({ state: "failed", attempts: 1, sentAt: null });
        expect(refused.lastError).toMatch(/400/);

        // Down for longer than retry_hours: retried until the next attempt would pass it, then failed.
        receiver.reply = () => ({ status: 503, body: "maintenance" });
        await upload(store, central.url, "gone-03");
        expect(await evaluate(central)).toMatchObject({ committed: true, notices: 1 });
        const deadline = Date.now() + 10_000;
        while ((await newest(store)).state !== "failed" && Date.now() < deadline) {
          await central.alerts.sendDue();
          await sleep(50);
        }
        const expired = await newest(store);
        expect(expired).toMatchObject({ state: "failed", sentAt: null });
        expect(expired.lastError).toMatch(/503/);
        expect(expired.attempts).toBeGreaterThanOrEqual(3);
        // It gave up only when the next attempt would have come after retryUntil.
        expect(Date.now() + RETRY.maxDelayMs).toBeGreaterThan(expired.retryUntil);

        expect((await store.alerts.listNotifications({ state: "failed" })).map((n) => n.id)).toEqual([
          expired.id,
          refused.id,
        ]);
        const metrics = await (await fetch(`${central.url}/metrics`)).text();
        expect(metrics).toContain('srvutil_alert_notifications_total{channel="hook",outcome="sent"} 1');
        expect(metrics).toContain('srvutil_alert_notifications_total{channel="hook",outcome="failed"} 2');
        expect(metrics).toContain(
          `srvutil_alert_notifications_total{channel="hook",outcome="retry"} ${2 + expired.attempts - 1}`,
        );
        const log = readFileSync(config.paths.automationLog, "utf8").split("\n");
        expect(log.filter((l) => l.includes("alert notification failed"))).toHaveLength(2);
        expect(log.filter((l) => l.includes("alert notification will be retried"))).toHaveLength(
          2 + expired.attempts - 1,
        );
        expect(log.filter((l) => l.includes("alert notification sent"))).toHaveLength(1);
      } finally {
        await central.close();
      }
    }, 30_000);

    it("a restart notifies nothing again; the reminder comes after reminder_hours", async () => {
      // reminder_hours 0.003: a reminder 10.8 s after the firing notification.
      const { config, store } = await setUp({ reminder_hours: REMINDER_HOURS });
      const first = await startCentral(config, { store, alertSendPollMs: 600_000 });
      // Its own evaluation at start first: it must not take the notices of this test's uploads.
      await first.alerts.settled();
      await upload(store, first.url, "gone-01");
      expect(await evaluate(first)).toMatchObject({ committed: true, notices: 1 });
      expect(await first.alerts.sendDue()).toBe(1);
      const [firing] = (await store.alerts.readOpen()).episodes;
      expect(firing).toMatchObject({ server: "gone-01", state: "firing" });
      await first.close();

      const again = await startCentral(config, { store, alertSendPollMs: 600_000 });
      // Its own evaluation at start first: it must not take the notices of this test's uploads.
      await again.alerts.settled();
      try {
        // Restarted well before the reminder is due (else this test proves nothing).
        expect(Date.now() - firing!.lastNotifiedAt!).toBeLessThan(REMINDER_HOURS * HOUR - 2_000);
        expect(await evaluate(again)).toMatchObject({ committed: true, notices: 0 });
        expect(await again.alerts.sendDue()).toBe(0);
        expect(hook!.requests).toHaveLength(1);
        // The same episode, still firing, notified when it was (its summary's "for how long" moves on).
        const pick = (e: AlertEpisode) => [e.id, e.state, e.firingAt, e.lastNotifiedAt];
        expect((await store.alerts.readOpen()).episodes.map(pick)).toEqual([pick(firing!)]);

        await sleep(firing!.lastNotifiedAt! + REMINDER_HOURS * HOUR - Date.now() + 50);
        expect(await evaluate(again)).toMatchObject({ committed: true, notices: 1 });
        expect(await again.alerts.sendDue()).toBe(1);
        const kinds = hook!.requests.map(
          (r) => (JSON.parse(r.body) as WebhookPayload).alerts.map((a) => `${a.kind} ${a.server}`)[0],
        );
        expect(kinds).toEqual(["firing gone-01", "reminder gone-01"]);
        expect((await store.alerts.readOpen()).episodes.map((e) => [e.id, e.state])).toEqual([
          [firing!.id, "firing"],
        ]);
      } finally {
        await again.close();
      }
    }, 30_000);
  },
);
