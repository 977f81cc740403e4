import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertBatch, alertCommit, alertEpisode } from "../../helpers/alerts.js";
import {
  commit,
  HOSTILE_SERVER,
  OK_TOKEN,
  REFUSE_TOKEN,
  rowOf,
  SIGNING_KEY,
  useAlertsDashboard,
} from "./alerts-fixture.js";
import { ADMIN, type DashboardHarness, dashboardBackends, InjectClient } from "./harness.js";

/**
 * /alerts/channels over app.inject, on SQLite and PostgreSQL: every channel
 * without a secret, its outbox figures, the last notifications, and "Send
 * test" through real webhook channels to a loopback receiver that takes one
 * and refuses the other (alerts-fixture.ts); and the pages without
 * SRVUTIL_ALERTS_CONFIG.
 */
const backends = await dashboardBackends();

describe.each(backends)("dashboard alert channels page: %s", (_name, skipReason, make) => {
  const t = useAlertsDashboard(skipReason, make);

  it("lists every channel without a secret, its outbox figures and the last notifications", async () => {
    const { h, admin, receiver } = t();
    const now = Date.now();
    await commit(h.store, {
      notifications: [
        alertBatch(now, "ops-hook"),
        alertBatch(now, "ops-hook", "web-02"),
        alertBatch(now, "broken-hook"),
        alertBatch(now, "broken-hook", HOSTILE_SERVER),
      ],
    });
    for (let i = 0; i < 4; i++) {
      const row = await h.store.alerts.claimNotification({
        owner: "test",
        now: Date.now(),
        leaseMs: 60_000,
      });
      expect(row).not.toBeNull();
      const marked =
        row!.channel === "ops-hook"
          ? await h.store.alerts.markNotificationSent(row!.id, {
              owner: "test",
              now: Date.now(),
              response: "HTTP 200 OK: queued as 17",
            })
          : await h.store.alerts.markNotificationFailed(row!.id, {
              owner: "test",
              now: Date.now(),
              error: `webhook channel "broken-hook" (${receiver.origin}): HTTP 500 Internal Server Error: boom`,
            });
      expect(marked).toBe(true);
    }
    await commit(h.store, { notifications: [alertBatch(Date.now(), "ops-hook", "web-09")] });

    const res = await admin.get("/alerts/channels");
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<a href="/alerts" aria-current="page">Alerts</a>');
    const ok = rowOf(res.body, "ops-hook");
    expect(ok).toContain(`webhook channel &quot;ops-hook&quot; (${receiver.origin})`);
    expect([...ok.matchAll(/<td class="num">(\d+)<\/td>/g)].map((m) => m[1])).toEqual(["2", "0", "1"]);
    expect(ok).toContain("HTTP 200 OK: queued as 17");
    expect(ok).toContain("Send test to ops-hook");
    const broken = rowOf(res.body, "broken-hook");
    expect([...broken.matchAll(/<td class="num">(\d+)<\/td>/g)].map((m) => m[1])).toEqual(["0", "2", "0"]);
    expect(broken).toContain("HTTP 500 Internal Server Error: boom");
    const recent = res.body.slice(res.body.indexOf("<h2>Last notifications</h2>"));
    expect(recent.match(/<tr><td><time/g)).toHaveLength(5);
    expect(recent).toContain("FIRING warning: web-09 cpu_pressure");
    expect(recent).toContain("FIRING warning: db-&lt;script&gt;alert(1)&lt;/script&gt; cpu_pressure");
    expect(recent).toMatch(/<span class="dl dl-failed">failed<\/span>/);
    expect(recent).toMatch(/<span class="dl dl-pending">pending<\/span>/);
    for (const secret of [OK_TOKEN, REFUSE_TOKEN, SIGNING_KEY, "/hook/"])
      expect(res.body).not.toContain(secret);
    expect(res.body).not.toContain("<script>");
  });

  it("sends a test through a channel at once and shows its answer, or its error without the URL's secret", async () => {
    const { h, admin, receiver } = t();
    await admin.get("/alerts/channels");
    const before = receiver.requests.length;
    const res = await admin.post("/alerts/channels/test", { name: "ops-hook" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(
      'Test sent to ops-hook.</strong> The channel answered: <span class="answer">HTTP 200 OK: thanks, got it</span>',
    );
    expect(receiver.requests.length).toBe(before + 1);
    const got = receiver.requests[before]!;
    expect(got.path).toBe(`/hook/ok/${OK_TOKEN}`);
    expect(got.headers["x-srvutil-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    const payload = JSON.parse(got.body) as {
      event: string;
      channel: string;
      alerts: { summary: string; kind: string }[];
    };
    expect(payload.event).toBe("test");
    expect(payload.channel).toBe("ops-hook");
    expect(payload.alerts[0]!.summary).toBe(
      "a test notification from the dashboard (alice); nothing is wrong",
    );

    const refused = await admin.post("/alerts/channels/test", { name: "broken-hook" });
    expect(refused.statusCode).toBe(200);
    expect(refused.body).toContain("Test to broken-hook failed:");
    expect(refused.body).toMatch(/HTTP 500 Internal Server Error: boom at \[redacted\]/);
    expect(receiver.requests.at(-1)!.path).toBe(`/hook/refuse/${REFUSE_TOKEN}`);
    for (const secret of [OK_TOKEN, REFUSE_TOKEN, SIGNING_KEY, "/hook/"]) {
      expect(refused.body).not.toContain(secret);
      expect(res.body).not.toContain(secret);
    }
    // A test is not an outbox row: the figures are as they were.
    expect(
      (await h.store.alerts.listNotifications({})).some((n) => n.batch.notices[0]!.kind === "test"),
    ).toBe(false);

    const unknown = await admin.post("/alerts/channels/test", { name: "pager<b>" });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain("No channel named &#39;pager&lt;b&gt;&#39;.");
    const log = readFileSync(h.logFile, "utf8");
    expect(log).toMatch(/alert channel tested.*"channel":"ops-hook".*"ok":true.*"by":"alice"/);
    expect(log).toMatch(/alert channel tested.*"channel":"broken-hook".*"ok":false/);
    for (const secret of [OK_TOKEN, REFUSE_TOKEN, SIGNING_KEY]) expect(log).not.toContain(secret);
  });
});

describe("dashboard alerts pages without SRVUTIL_ALERTS_CONFIG", () => {
  let h: DashboardHarness;
  beforeAll(async () => {
    const [[, , make]] = backends as [(typeof backends)[number]];
    h = await make({ clock: Date.now });
  });
  afterAll(async () => h?.close());

  it("still shows /alerts from the store, and the channels page says no config is set", async () => {
    await h.store.alerts.commitEvaluation(alertCommit(Date.now(), { inserts: [alertEpisode(Date.now())] }));
    const c = new InjectClient(h.app);
    await c.signIn(ADMIN);
    const alerts = await c.get("/alerts");
    expect(alerts.statusCode).toBe(200);
    expect(alerts.body).toContain("CPU above 90 % for 15 minutes");
    const channels = await c.get("/alerts/channels");
    expect(channels.statusCode).toBe(200);
    expect(channels.body).toContain("No SRVUTIL_ALERTS_CONFIG is set");
    expect(channels.body).not.toContain("Send test");
    const test = await c.post("/alerts/channels/test", { name: "ops-hook" });
    expect(test.statusCode).toBe(400);
    expect(test.body).toContain("No SRVUTIL_ALERTS_CONFIG is set: there is no channel to test.");
  });
});
