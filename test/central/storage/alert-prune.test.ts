import { afterEach, describe, expect, it } from "vitest";
import { ALERT_HISTORY_KEEP_MS, pruneAlerts } from "../../../src/central/jobs/retention-job.js";
import { DEFAULT_RETENTION, hourlyCutoff } from "../../../src/central/retention.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { alertBatch, alertCommit, alertEpisode } from "../../helpers/alerts.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";

/**
 * The retention job's alerts part on a real SQLite file and the real
 * PostgreSQL: resolved episodes go with the hourly rollups
 * (SRVUTIL_RETENTION_HOURLY_MONTHS, 13 by default), sent and failed
 * notifications and ended silences after 30 days; open episodes, rows still
 * to send and silences in force stay whatever their age.
 */
const BACKENDS = await storeBackends();
const DAY = 24 * 3_600_000;

describe.each(BACKENDS)("store.alerts.prune through the retention job: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  const open = async (ctx: { skip: (why: string) => void }): Promise<Storage> => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make({ schemaPrefix: "srvutil_alert_prune" });
    return t.store;
  };

  it("removes old resolved episodes, old sent and failed notifications, long-ended silences; keeps the rest", async (ctx) => {
    const store = await open(ctx);
    const now = Date.now();
    const horizon = hourlyCutoff(now, DEFAULT_RETENTION.hourlyMonths!);
    const old = now - ALERT_HISTORY_KEEP_MS - DAY;
    const recent = now - ALERT_HISTORY_KEEP_MS + DAY;
    const resolved = (resolvedAt: number, server: string) =>
      alertEpisode(now, {
        server,
        state: "resolved",
        startedAt: resolvedAt - 2 * DAY,
        firingAt: resolvedAt - DAY,
        resolvedAt,
      });
    expect(
      await store.alerts.commitEvaluation(
        alertCommit(old, {
          inserts: [
            resolved(horizon - DAY, "gone-01"),
            resolved(horizon + DAY, "kept-01"),
            // Firing for longer than retention keeps anything: open, so kept.
            alertEpisode(now, {
              server: "still-01",
              startedAt: horizon - 30 * DAY,
              firingAt: horizon - 30 * DAY,
            }),
          ],
          notifications: [
            alertBatch(old, "sent-old"),
            alertBatch(old, "failed-old"),
            alertBatch(old, "due-old"),
          ],
        }),
      ),
    ).toBe(true);
    const mark = async (at: number, outcome: "sent" | "failed") => {
      const row = await store.alerts.claimNotification({ owner: "i", now: at, leaseMs: 60_000 });
      expect(row).not.toBeNull();
      if (outcome === "sent")
        await store.alerts.markNotificationSent(row!.id, { owner: "i", now: at, response: "204" });
      else await store.alerts.markNotificationFailed(row!.id, { owner: "i", now: at, error: "HTTP 400" });
    };
    await mark(old, "sent");
    await mark(old, "failed");
    expect(
      await store.alerts.commitEvaluation(
        alertCommit(recent, { expectedVersion: 1, notifications: [alertBatch(recent, "sent-recent")] }),
      ),
    ).toBe(true);
    // The old due row comes first: it is retried far in the future, and stays pending.
    const due = await store.alerts.claimNotification({ owner: "i", now: recent, leaseMs: 60_000 });
    expect(due?.channel).toBe("due-old");
    await store.alerts.markNotificationRetry(due!.id, {
      owner: "i",
      now: recent,
      error: "503",
      nextAttemptAt: now + DAY,
    });
    await mark(recent, "sent");
    const silence = { server: "db-*", rule: null, group: null, reason: "upgrade", createdBy: "ops" };
    await store.alerts.addSilence({ ...silence, startsAt: old - DAY, endsAt: old, createdAt: old - DAY });
    await store.alerts.addSilence({
      ...silence,
      startsAt: recent - DAY,
      endsAt: recent,
      createdAt: recent - DAY,
    });
    await store.alerts.addSilence({ ...silence, startsAt: old, endsAt: now + DAY, createdAt: old });

    const removed = await pruneAlerts(store, DEFAULT_RETENTION, now);
    expect(removed).toEqual({ episodes: 1, notifications: 2, silences: 1 });
    expect((await store.alerts.list({ limit: 100 })).map((e) => e.server).sort()).toEqual([
      "kept-01",
      "still-01",
    ]);
    expect((await store.alerts.listNotifications()).map((n) => [n.channel, n.state]).sort()).toEqual([
      ["due-old", "pending"],
      ["sent-recent", "sent"],
    ]);
    expect((await store.alerts.listSilences()).map((s) => s.endsAt).sort()).toEqual([recent, now + DAY]);
    // Nothing more to remove; hourly rollups kept forever keep every resolved episode.
    expect(await pruneAlerts(store, DEFAULT_RETENTION, now)).toEqual({
      episodes: 0,
      notifications: 0,
      silences: 0,
    });
    expect(
      await pruneAlerts(store, { ...DEFAULT_RETENTION, hourlyMonths: null }, now + 100 * 365 * DAY),
    ).toEqual({ episodes: 0, notifications: 1, silences: 2 });
    expect((await store.alerts.list({ limit: 100 })).map((e) => e.server).sort()).toEqual([
      "kept-01",
      "still-01",
    ]);
  });
});
