import { afterEach, describe, expect, it } from "vitest";
import type { AlertEpisode } from "../../../src/central/alerts/types.js";
import type { AlertEvaluationCommit } from "../../../src/central/storage/alert-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { alertBatch, alertCommit, alertEpisode } from "../../helpers/alerts.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";

/**
 * store.alerts on a real SQLite file and the real PostgreSQL: evaluations
 * commit only from the version they read (one winner between two instances,
 * nothing written by the loser, not even its notifications), one open episode
 * per key, the list filters, acknowledgements. The outbox and silences:
 * ./alert-outbox.test.ts; the rules' reads: ./alert-reads.test.ts.
 */
const BACKENDS = await storeBackends();
const MIN = 60_000;
const HOUR = 3_600_000;

describe.each(BACKENDS)("store.alerts: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  const open = async (ctx: { skip: (why: string) => void }): Promise<Storage> => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make({ schemaPrefix: "srvutil_alerts" });
    return t.store;
  };
  const now = Date.now();
  const ep = (over: Partial<Omit<AlertEpisode, "id">> = {}) => alertEpisode(now, over);
  const batch = (channel: string, server?: string) => alertBatch(now, channel, server);
  const commit = (over: Partial<AlertEvaluationCommit>) => alertCommit(now, over);
  const withoutId = ({ id: _, ...rest }: AlertEpisode) => rest;

  it("commits an evaluation and reads it back at the next version; resolves and reopens a key in one commit", async (ctx) => {
    const store = await open(ctx);
    expect(await store.alerts.readOpen()).toEqual({ version: 0, episodes: [] });
    const firing = ep();
    const pending = ep({ rule: "memory_pressure", state: "pending", firingAt: null, lastNotifiedAt: null });
    expect(
      await store.alerts.commitEvaluation(
        commit({ inserts: [firing, pending], notifications: [batch("mail"), batch("hook")] }),
      ),
    ).toBe(true);
    const first = await store.alerts.readOpen();
    expect(first.version).toBe(1);
    expect(first.episodes.map(withoutId)).toEqual([firing, pending]);
    const [f, p] = first.episodes as [AlertEpisode, AlertEpisode];
    expect(f.id).toBeGreaterThan(0);
    expect(p.id).not.toBe(f.id);
    const outbox = await store.alerts.listNotifications();
    expect(outbox.map((n) => [n.channel, n.state, n.attempts])).toEqual([
      ["hook", "pending", 0],
      ["mail", "pending", 0],
    ]);
    expect(outbox[1]).toMatchObject({
      batch: batch("mail"),
      createdAt: now,
      nextAttemptAt: now,
      retryUntil: now + 6 * HOUR,
      leaseOwner: null,
      leaseUntil: null,
      response: null,
      lastError: null,
      sentAt: null,
    });

    // The pending one cleared before it fired (deleted); the firing one resolves and its
    // condition is back in the same evaluation: a new episode of the same key.
    const resolved = { ...f, state: "resolved" as const, resolvedAt: now, updatedAt: now };
    const again = ep({
      state: "pending",
      startedAt: now,
      firingAt: null,
      lastNotifiedAt: null,
      updatedAt: now,
    });
    expect(
      await store.alerts.commitEvaluation(
        commit({ expectedVersion: 1, updates: [resolved], deletes: [p.id], inserts: [again] }),
      ),
    ).toBe(true);
    const second = await store.alerts.readOpen();
    expect(second.version).toBe(2);
    expect(second.episodes.map(withoutId)).toEqual([again]);
    expect(await store.alerts.list()).toEqual([second.episodes[0], resolved]);
  });

  it("applies many inserts and updates in one commit, every column and null kept", async (ctx) => {
    const store = await open(ctx);
    const inserts = Array.from({ length: 40 }, (_, i) =>
      ep({
        server: `s-${String(i).padStart(2, "0")}`,
        rule: i % 2 === 0 ? "disk_full_soon" : "server_silent",
        mount: i % 2 === 0 ? `/m${i}` : "",
        state: i % 3 === 0 ? "pending" : "firing",
        severity: i % 4 === 0 ? "critical" : "warning",
        summary: `summary ${i} – "quoted", {braces}`,
        startedAt: now - (i + 1) * MIN,
        firingAt: i % 3 === 0 ? null : now - i * MIN,
        lastNotifiedAt: i % 3 === 0 ? null : now - i * MIN,
      }),
    );
    expect(await store.alerts.commitEvaluation(commit({ inserts }))).toBe(true);
    const stored = (await store.alerts.readOpen()).episodes;
    expect(stored.map(withoutId)).toEqual(inserts);
    const updates = stored.map((e, i) =>
      i % 2 === 0
        ? { ...e, state: "resolved" as const, resolvedAt: now, clearSince: now - MIN, updatedAt: now }
        : {
            ...e,
            acknowledgedBy: `op-${i}`,
            acknowledgedAt: now,
            acknowledgeNote: i % 4 === 1 ? null : "n",
            updatedAt: now,
          },
    );
    expect(await store.alerts.commitEvaluation(commit({ expectedVersion: 1, updates }))).toBe(true);
    const byId = (list: AlertEpisode[]) => [...list].sort((a, b) => a.id - b.id);
    expect(byId(await store.alerts.list())).toEqual(updates);
    expect((await store.alerts.readOpen()).episodes).toEqual(updates.filter((e) => e.state !== "resolved"));
  });

  it("a stale version commits nothing, not even the outbox rows; a failing commit rolls back whole", async (ctx) => {
    const store = await open(ctx);
    expect(
      await store.alerts.commitEvaluation(commit({ inserts: [ep()], notifications: [batch("mail")] })),
    ).toBe(true);
    const before = await store.alerts.readOpen();
    const [e] = before.episodes as [AlertEpisode];
    const stale = commit({
      expectedVersion: 0,
      updates: [{ ...e, summary: "changed" }],
      inserts: [ep({ server: "web-02" })],
      notifications: [batch("mail", "web-02"), batch("hook", "web-02")],
    });
    expect(await store.alerts.commitEvaluation(stale)).toBe(false);
    expect(await store.alerts.readOpen()).toEqual(before);
    expect(await store.alerts.listNotifications()).toHaveLength(1);

    // Current version but an impossible change: nothing of it stays, the version included.
    const unknownUpdate = commit({
      expectedVersion: 1,
      inserts: [ep({ server: "web-03" })],
      updates: [{ ...e, id: e.id + 1000 }],
      notifications: [batch("mail", "web-03")],
    });
    await expect(store.alerts.commitEvaluation(unknownUpdate)).rejects.toThrow(/does not exist/);
    // Only pending episodes are deleted (a firing one resolves).
    await expect(
      store.alerts.commitEvaluation(commit({ expectedVersion: 1, deletes: [e.id] })),
    ).rejects.toThrow(/pending/);
    expect(await store.alerts.readOpen()).toEqual(before);
    expect(await store.alerts.listNotifications()).toHaveLength(1);
  });

  it("two instances committing from the same version: exactly one wins, every round", async (ctx) => {
    const a = await open(ctx);
    const b = await t!.another();
    for (let round = 0; round < 6; round++) {
      const [va, vb] = await Promise.all([a.alerts.readOpen(), b.alerts.readOpen()]);
      expect(va.version).toBe(round);
      expect(vb.version).toBe(round);
      const results = await Promise.all([
        a.alerts.commitEvaluation(
          commit({
            expectedVersion: va.version,
            inserts: [ep({ server: `a-${round}` })],
            notifications: [batch("a", `a-${round}`)],
          }),
        ),
        b.alerts.commitEvaluation(
          commit({
            expectedVersion: vb.version,
            inserts: [ep({ server: `b-${round}` })],
            notifications: [batch("b", `b-${round}`)],
          }),
        ),
      ]);
      expect(results.filter((r) => r)).toHaveLength(1);
      const winner = results[0] ? "a" : "b";
      const after = await b.alerts.readOpen();
      expect(after.version).toBe(round + 1);
      expect(after.episodes.map((e) => e.server)).toContain(`${winner}-${round}`);
      expect(after.episodes).toHaveLength(round + 1);
      const outbox = await a.alerts.listNotifications();
      expect(outbox).toHaveLength(round + 1);
      expect(outbox[0]!.batch.notices[0]!.server).toBe(`${winner}-${round}`);
    }
  });

  it("refuses a second open episode of a (server, rule, mount), not a resolved one", async (ctx) => {
    const store = await open(ctx);
    const key = { server: "db-01", rule: "disk_nearly_full" as const, mount: "/var" };
    const twoOpen = commit({ inserts: [ep(key), ep({ ...key, state: "pending", firingAt: null })] });
    await expect(store.alerts.commitEvaluation(twoOpen)).rejects.toThrow();
    expect(await store.alerts.readOpen()).toEqual({ version: 0, episodes: [] });
    const past = ep({ ...key, state: "resolved", startedAt: now - 3 * HOUR, resolvedAt: now - 2 * HOUR });
    expect(await store.alerts.commitEvaluation(commit({ inserts: [past, { ...past }, ep(key)] }))).toBe(true);
    // Another open one of the key, in a later evaluation: refused against the stored one.
    await expect(
      store.alerts.commitEvaluation(
        commit({ expectedVersion: 1, inserts: [ep({ ...key, state: "pending" })] }),
      ),
    ).rejects.toThrow();
    // Another mount is another key.
    expect(
      await store.alerts.commitEvaluation(
        commit({ expectedVersion: 1, inserts: [ep({ ...key, mount: "/" })] }),
      ),
    ).toBe(true);
    expect((await store.alerts.readOpen()).episodes.map((e) => e.mount)).toEqual(["/var", "/"]);
  });

  it("lists newest first with every filter: open-in-range overlap, fired only, state, server, rule, limit", async (ctx) => {
    const store = await open(ctx);
    const e1 = ep({
      startedAt: now - 10 * HOUR,
      firingAt: now - 9 * HOUR,
      state: "resolved",
      resolvedAt: now - 8 * HOUR,
    });
    const e2 = ep({ rule: "memory_pressure", startedAt: now - 5 * HOUR, state: "pending", firingAt: null });
    const e3 = ep({ server: "web-02", rule: "disk_nearly_full", mount: "/var", startedAt: now - 3 * HOUR });
    const e4 = ep({
      server: "web-02",
      startedAt: now - 30 * HOUR,
      state: "resolved",
      resolvedAt: now - 20 * HOUR,
    });
    expect(await store.alerts.commitEvaluation(commit({ inserts: [e1, e2, e3, e4] }))).toBe(true);
    const all = await store.alerts.list();
    const names = async (filter: Parameters<Storage["alerts"]["list"]>[0]) =>
      (await store.alerts.list(filter)).map((e) => {
        const i = [e1, e2, e3, e4].findIndex((x) => x.startedAt === e.startedAt);
        return `e${i + 1}`;
      });
    expect(all.map(withoutId)).toEqual([e3, e2, e1, e4]);
    expect(await names({ from: now - 9 * HOUR, to: now })).toEqual(["e3", "e2", "e1"]);
    expect(await names({ from: now - 7 * HOUR, to: now })).toEqual(["e3", "e2"]);
    // Bounds: resolved at `from` still counts; started at `to` does not.
    expect(await names({ from: now - 8 * HOUR })).toEqual(["e3", "e2", "e1"]);
    expect(await names({ from: now - 8 * HOUR + 1 })).toEqual(["e3", "e2"]);
    expect(await names({ to: now - 5 * HOUR })).toEqual(["e1", "e4"]);
    expect(await names({ from: now - 25 * HOUR, to: now - 21 * HOUR })).toEqual(["e4"]);
    expect(await names({ firedOnly: true })).toEqual(["e3", "e1", "e4"]);
    expect(await names({ state: "firing" })).toEqual(["e3"]);
    expect(await names({ state: "resolved" })).toEqual(["e1", "e4"]);
    expect(await names({ state: "pending" })).toEqual(["e2"]);
    expect(await names({ server: "web-02" })).toEqual(["e3", "e4"]);
    expect(await names({ rule: "cpu_pressure" })).toEqual(["e1", "e4"]);
    expect(await names({ server: "web-01", firedOnly: true })).toEqual(["e1"]);
    expect(await names({ limit: 2 })).toEqual(["e3", "e2"]);
    expect(await names({ server: "nobody" })).toEqual([]);
  });

  it("acknowledges an open episode (a new version), not a resolved or unknown one", async (ctx) => {
    const store = await open(ctx);
    const gone = ep({ server: "web-09", state: "resolved", resolvedAt: now - MIN });
    expect(await store.alerts.commitEvaluation(commit({ inserts: [ep(), gone] }))).toBe(true);
    const openOne = (await store.alerts.list({ server: "web-01" }))[0]!;
    const resolvedOne = (await store.alerts.list({ server: "web-09" }))[0]!;
    // What an evaluator kept is handed back while the version stands, not after an acknowledgement.
    const kept = await store.alerts.readOpen();
    expect(await store.alerts.readOpen(kept)).toBe(kept);
    expect(await store.alerts.acknowledge(openOne.id, "ops@example.com", "looking", now)).toBe(true);
    const fresh = await store.alerts.readOpen(kept);
    expect(fresh).not.toBe(kept);
    expect(fresh).toEqual(await store.alerts.readOpen());
    expect(await store.alerts.acknowledge(resolvedOne.id, "ops@example.com", null, now)).toBe(false);
    expect(await store.alerts.acknowledge(resolvedOne.id + openOne.id + 1000, "x", null, now)).toBe(false);
    const after = await store.alerts.readOpen();
    expect(after.version).toBe(2);
    expect(after.episodes).toEqual([
      {
        ...openOne,
        acknowledgedBy: "ops@example.com",
        acknowledgedAt: now,
        acknowledgeNote: "looking",
        updatedAt: now,
      },
    ]);
    expect((await store.alerts.list({ server: "web-09" }))[0]!.acknowledgedBy).toBeNull();
    // An evaluation that read before the acknowledgement cannot write the episode back without it.
    expect(
      await store.alerts.commitEvaluation(
        commit({ expectedVersion: 1, updates: [{ ...openOne, summary: "x" }] }),
      ),
    ).toBe(false);
    expect((await store.alerts.readOpen()).episodes[0]!.acknowledgedBy).toBe("ops@example.com");
  });
});
