import { afterEach, describe, expect, it } from "vitest";
import type { Storage } from "../../../src/central/storage/store.js";
import { alertBatch, alertCommit } from "../../helpers/alerts.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";

/**
 * store.alerts' outbox and silences on a real SQLite file and the real
 * PostgreSQL: claims with a lease, taken over when it expires and never by
 * two instances at once, outcomes only from the holder, retries when due;
 * silences in force from their start to their end, ended early.
 */
const BACKENDS = await storeBackends();
const MIN = 60_000;
const HOUR = 3_600_000;

describe.each(BACKENDS)("store.alerts outbox and silences: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  const open = async (ctx: { skip: (why: string) => void }): Promise<Storage> => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make({ schemaPrefix: "srvutil_alert_outbox" });
    return t.store;
  };
  const now = Date.now();
  const batch = (channel: string, server?: string) => alertBatch(now, channel, server);
  const commit = (over: Parameters<typeof alertCommit>[1]) => alertCommit(now, over);

  it("claims due rows with a lease, reclaims expired ones, lets only the holder mark, retries when due", async (ctx) => {
    const store = await open(ctx);
    expect(
      await store.alerts.commitEvaluation(commit({ notifications: [batch("mail"), batch("hook")] })),
    ).toBe(true);
    const [hook, mail] = await store.alerts.listNotifications();
    const lease = { leaseMs: MIN };
    expect(await store.alerts.claimNotification({ owner: "early", now: now - 1, ...lease })).toBeNull();
    const a = await store.alerts.claimNotification({ owner: "inst-a", now, ...lease });
    expect(a).toMatchObject({
      id: mail!.id,
      state: "sending",
      attempts: 1,
      leaseOwner: "inst-a",
      reclaimed: false,
    });
    expect(a!.leaseUntil).toBe(now + MIN);
    const b = await store.alerts.claimNotification({ owner: "inst-b", now, ...lease });
    expect(b).toMatchObject({ id: hook!.id, leaseOwner: "inst-b", reclaimed: false });
    // Both leases run: nothing to claim until they expire.
    expect(
      await store.alerts.claimNotification({ owner: "inst-c", now: now + MIN - 1, ...lease }),
    ).toBeNull();
    expect(await store.alerts.markNotificationSent(mail!.id, { owner: "inst-b", now, response: "x" })).toBe(
      false,
    );

    // inst-a died: at its lease's end inst-c takes the row over; inst-a's late mark is refused.
    const c = await store.alerts.claimNotification({ owner: "inst-c", now: now + MIN, ...lease });
    expect(c).toMatchObject({ id: mail!.id, attempts: 2, leaseOwner: "inst-c", reclaimed: true });
    expect(c!.leaseUntil).toBe(now + 2 * MIN);
    expect(
      await store.alerts.markNotificationSent(mail!.id, { owner: "inst-a", now, response: "250 OK" }),
    ).toBe(false);
    expect(
      await store.alerts.markNotificationSent(mail!.id, {
        owner: "inst-c",
        now: now + MIN,
        response: "250 OK",
      }),
    ).toBe(true);
    expect(await store.alerts.markNotificationFailed(mail!.id, { owner: "inst-c", now, error: "late" })).toBe(
      false,
    );

    // inst-b, still the holder though past its lease (nobody took over), may retry.
    const retryAt = now + 10 * MIN;
    expect(
      await store.alerts.markNotificationRetry(hook!.id, {
        owner: "inst-b",
        now: now + MIN,
        error: "HTTP 503",
        nextAttemptAt: retryAt,
      }),
    ).toBe(true);
    expect(await store.alerts.claimNotification({ owner: "inst-d", now: retryAt - 1, ...lease })).toBeNull();
    const d = await store.alerts.claimNotification({ owner: "inst-d", now: retryAt, ...lease });
    expect(d).toMatchObject({ id: hook!.id, attempts: 2, reclaimed: false, lastError: "HTTP 503" });
    expect(
      await store.alerts.markNotificationFailed(hook!.id, {
        owner: "inst-d",
        now: retryAt,
        error: "gave up",
      }),
    ).toBe(true);
    expect(
      await store.alerts.claimNotification({ owner: "inst-e", now: retryAt + HOUR, ...lease }),
    ).toBeNull();

    const sent = await store.alerts.listNotifications({ state: "sent" });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      channel: "mail",
      response: "250 OK",
      sentAt: now + MIN,
      leaseOwner: null,
      leaseUntil: null,
      lastError: null,
    });
    expect(await store.alerts.listNotifications({ state: "failed" })).toMatchObject([
      { channel: "hook", lastError: "gave up", attempts: 2, leaseOwner: null },
    ]);
    expect((await store.alerts.listNotifications({ channel: "hook" })).map((n) => n.id)).toEqual([hook!.id]);
    expect((await store.alerts.listNotifications({ limit: 1 })).map((n) => n.id)).toEqual([hook!.id]);
  });

  it("two instances claiming at once never take the same row", async (ctx) => {
    const a = await open(ctx);
    const b = await t!.another();
    const channels = Array.from({ length: 8 }, (_, i) => `ch-${i}`);
    expect(await a.alerts.commitEvaluation(commit({ notifications: channels.map((c) => batch(c)) }))).toBe(
      true,
    );
    const claims = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        (i % 2 === 0 ? a : b).alerts.claimNotification({ owner: `inst-${i}`, now, leaseMs: MIN }),
      ),
    );
    const taken = claims.filter((c) => c !== null);
    expect(taken).toHaveLength(8);
    expect(new Set(taken.map((c) => c.id)).size).toBe(8);
    expect(taken.every((c) => c.attempts === 1 && !c.reclaimed)).toBe(true);
  });

  it("keeps silences: in force from start to end, ended early, listed newest first", async (ctx) => {
    const store = await open(ctx);
    const base = { server: "db-*", rule: null, group: null, reason: "maintenance", createdBy: "ops" };
    const s1 = await store.alerts.addSilence({
      ...base,
      startsAt: now - HOUR,
      endsAt: now + HOUR,
      createdAt: now - 3,
    });
    const s2 = await store.alerts.addSilence({
      ...base,
      server: null,
      rule: "disk_full_soon",
      group: "databases",
      startsAt: now + 2 * HOUR,
      endsAt: now + 3 * HOUR,
      createdAt: now - 2,
    });
    const s3 = await store.alerts.addSilence({
      ...base,
      startsAt: now - 3 * HOUR,
      endsAt: now - 2 * HOUR,
      createdAt: now - 1,
    });
    expect(s2).toMatchObject({
      server: null,
      rule: "disk_full_soon",
      group: "databases",
      reason: "maintenance",
    });
    expect(await store.alerts.listSilences()).toEqual([s3, s2, s1]);
    expect(await store.alerts.listSilences({ activeAt: now })).toEqual([s1]);
    expect(await store.alerts.listSilences({ activeAt: now + 2 * HOUR })).toEqual([s2]);
    expect(await store.alerts.listSilences({ activeAt: now + HOUR })).toEqual([]);
    await expect(
      store.alerts.addSilence({ ...base, startsAt: now, endsAt: now, createdAt: now }),
    ).rejects.toThrow(RangeError);

    expect(await store.alerts.endSilence(s1.id, now)).toBe(true);
    expect(await store.alerts.listSilences({ activeAt: now })).toEqual([]);
    expect(await store.alerts.listSilences({ activeAt: now - 1 })).toEqual([{ ...s1, endsAt: now }]);
    expect(await store.alerts.endSilence(s1.id, now + 1)).toBe(false);
    expect(await store.alerts.endSilence(s3.id, now)).toBe(false);
    expect(await store.alerts.endSilence(s1.id + s2.id + s3.id, now)).toBe(false);
    // Ended before it began: never in force.
    expect(await store.alerts.endSilence(s2.id, now)).toBe(true);
    expect(await store.alerts.listSilences({ activeAt: now + 2 * HOUR })).toEqual([]);
    expect((await store.alerts.listSilences())[1]).toEqual({ ...s2, endsAt: s2.startsAt });
  });
});
