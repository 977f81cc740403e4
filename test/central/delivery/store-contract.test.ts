import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AutomationLog } from "../../../src/central/automation-log.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { startDeliveryScheduler } from "../../../src/central/delivery/scheduler.js";
import type { DeliveryStore, EnqueueOptions } from "../../../src/central/delivery/store.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";
import { storeBackends } from "../../helpers/store-backends.js";
import { startSmtpServer } from "../mail/smtp-fixture.js";
import { fleetComposer, readLog } from "./helpers.js";

const PG = await findTestPostgres();

/**
 * The DeliveryStore contract, against SQLite and the real PostgreSQL that
 * test/helpers/postgres.ts finds (a throwaway schema per test).
 * Each harness opens two independent connections (pools) to the same
 * database, standing in for two central processes.
 */

interface Harness {
  a: DeliveryStore;
  b: DeliveryStore;
  cleanup(): Promise<void>;
}

const factories: [string, string | undefined, () => Promise<Harness>][] = (await storeBackends()).map(
  (backend) => [
    backend.name,
    backend.skipReason,
    async () => {
      const t = await backend.make({ schemaPrefix: "srvutil_dtest" });
      const other = await t.another();
      return { a: t.store.deliveries, b: other.deliveries, cleanup: () => t.cleanup() };
    },
  ],
);

const T0 = Date.parse("2026-11-23T06:00:00Z");
const opts = (over: Partial<EnqueueOptions> = {}): EnqueueOptions => ({
  now: T0,
  trigger: "schedule",
  retryUntil: T0 + 3_600_000,
  ...over,
});
const W47 = { week: "2026-W47", group: "default" };

for (const [name, skipReason, make] of factories) {
  describe(`DeliveryStore contract: ${name}`, () => {
    let h: Harness;
    beforeEach(async (ctx) => {
      if (skipReason !== undefined) ctx.skip(skipReason);
      h = await make();
      await Promise.all([h.a.init(), h.b.init()]); // concurrent and idempotent
    });
    afterEach(async () => {
      await h?.cleanup();
    });

    it("queues once per (week, group); a claim is exclusive until its lease ends", async () => {
      expect(await h.a.enqueue(W47, opts())).toBe("created");
      expect(await h.b.enqueue(W47, opts())).toBe("unchanged");
      const claimed = await h.a.claimNext({ owner: "A", now: T0, leaseMs: 1000 });
      expect(claimed).toMatchObject({
        ...W47,
        state: "sending",
        attempts: 1,
        leaseOwner: "A",
        reclaimed: false,
      });
      expect(await h.b.claimNext({ owner: "B", now: T0 + 999, leaseMs: 1000 })).toBeNull();
      expect(await h.a.renewLease(W47, "A", T0 + 5000)).toBe(true);
      expect(await h.b.renewLease(W47, "B", T0 + 5000)).toBe(false);
      expect(await h.b.claimNext({ owner: "B", now: T0 + 4999, leaseMs: 1000 })).toBeNull();
      expect(await h.a.nextWakeUp()).toBe(T0 + 5000);
      // A died: after the lease, B takes over and knows it is a takeover.
      const taken = await h.b.claimNext({ owner: "B", now: T0 + 5000, leaseMs: 1000 });
      expect(taken).toMatchObject({ attempts: 2, leaseOwner: "B", reclaimed: true, previousOwner: "A" });
      // Only the holder records the outcome.
      const sent = {
        now: T0 + 5100,
        messageId: "<m>",
        response: "250 ok",
        rejected: ["x@y.z"],
        recipients: "{}",
      };
      expect(await h.a.markSent(W47, { owner: "A", ...sent })).toBe(false);
      expect(await h.b.markSent(W47, { owner: "B", ...sent })).toBe(true);
      expect(await h.a.get(W47)).toMatchObject({
        state: "sent",
        messageId: "<m>",
        smtpResponse: "250 ok",
        rejected: ["x@y.z"],
        sentAt: T0 + 5100,
        leaseOwner: null,
      });
      expect(await h.a.nextWakeUp()).toBeNull();
    });

    it("retry, failure, manual retry of a failed one, resend of a sent one, due-now", async () => {
      await h.a.enqueue(W47, opts());
      await h.a.claimNext({ owner: "A", now: T0, leaseMs: 1000 });
      expect(
        await h.a.markRetry(W47, {
          owner: "A",
          now: T0 + 10,
          error: "ECONNREFUSED",
          nextAttemptAt: T0 + 60_000,
          recipients: null,
        }),
      ).toBe(true);
      expect(await h.a.get(W47)).toMatchObject({
        state: "pending",
        lastError: "ECONNREFUSED",
        nextAttemptAt: T0 + 60_000,
      });
      expect(await h.a.claimNext({ owner: "A", now: T0 + 59_999, leaseMs: 1000 })).toBeNull();
      expect(await h.a.enqueue(W47, opts({ now: T0 + 100, dueNow: true }))).toBe("unchanged");
      expect((await h.a.get(W47))!.nextAttemptAt).toBe(T0 + 100);
      await h.a.claimNext({ owner: "A", now: T0 + 100, leaseMs: 1000 });
      expect(
        await h.a.markFailed(W47, {
          owner: "A",
          now: T0 + 200,
          error: "550 no such user",
          recipients: '{"to":[]}',
        }),
      ).toBe(true);
      expect(await h.a.get(W47)).toMatchObject({ state: "failed", attempts: 2, recipients: '{"to":[]}' });
      expect(await h.a.enqueue(W47, opts({ now: T0 + 300 }))).toBe("unchanged");
      expect(await h.a.enqueue(W47, opts({ now: T0 + 300, retryFailed: true }))).toBe("requeued");
      expect(await h.a.get(W47)).toMatchObject({
        state: "pending",
        attempts: 0,
        resends: 0,
        lastError: null,
      });
      await h.a.claimNext({ owner: "A", now: T0 + 300, leaseMs: 1000 });
      const sent = {
        owner: "A",
        now: T0 + 400,
        messageId: "<m>",
        response: "250",
        rejected: [],
        recipients: "{}",
      };
      await h.a.markSent(W47, sent);
      expect(await h.a.enqueue(W47, opts({ now: T0 + 500, retryFailed: true }))).toBe("unchanged");
      expect(await h.a.enqueue(W47, opts({ now: T0 + 500, resend: true, trigger: "resend" }))).toBe(
        "requeued",
      );
      expect(await h.a.get(W47)).toMatchObject({ state: "pending", resends: 1, trigger: "resend" });
    });

    it("a schedule tick is claimed once, together with its deliveries", async () => {
      expect(await h.a.lastScheduledTick("weekly-report")).toBeNull();
      const keys = [
        { week: "2026-W47", group: "default" },
        { week: "2026-W47", group: "web" },
      ];
      const [ra, rb] = await Promise.all([
        h.a.claimScheduledTick("weekly-report", T0, T0, { keys, options: opts() }),
        h.b.claimScheduledTick("weekly-report", T0, T0, { keys, options: opts() }),
      ]);
      expect([ra, rb].filter(Boolean)).toHaveLength(1);
      expect(await h.b.lastScheduledTick("weekly-report")).toBe(T0);
      expect(await h.a.claimScheduledTick("weekly-report", T0 - 1, T0)).toBe(false);
      expect((await h.a.list()).map((r) => [r.week, r.group, r.state])).toEqual([
        ["2026-W47", "default", "pending"],
        ["2026-W47", "web", "pending"],
      ]);
      expect(await h.a.claimScheduledTick("weekly-report", T0 + 1, T0)).toBe(true);
    });

    it("concurrent claimers on two connections take every due row exactly once", async () => {
      const weeks = Array.from({ length: 10 }, (_, i) => `2026-W${String(30 + i).padStart(2, "0")}`);
      for (const week of weeks)
        for (const group of ["default", "web"]) await h.a.enqueue({ week, group }, opts());
      const claimer = async (store: DeliveryStore, owner: string) => {
        const got: string[] = [];
        for (;;) {
          const c = await store.claimNext({ owner, now: T0, leaseMs: 60_000 });
          if (c === null) return got;
          got.push(`${c.week}/${c.group}`);
        }
      };
      const results = await Promise.all([
        claimer(h.a, "A1"),
        claimer(h.b, "B1"),
        claimer(h.a, "A2"),
        claimer(h.b, "B2"),
      ]);
      const all = results.flat();
      expect(all).toHaveLength(20);
      expect(new Set(all).size).toBe(20);
      const only = await h.b.claimNext({
        owner: "X",
        now: T0 + 60_000,
        leaseMs: 1,
        only: [{ week: "2026-W35", group: "web" }],
      });
      expect(only).toMatchObject({ week: "2026-W35", group: "web", reclaimed: true });
      expect((await h.a.list({ state: "sending", limit: 5 })).length).toBe(5);
      expect((await h.a.list({ week: "2026-W35" })).map((r) => r.group)).toEqual(["default", "web"]);
    });
  });
}

describe("startDeliveryScheduler on PostgreSQL", () => {
  it("resumes a pending delivery from the shared database and sends it over SMTP", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url, "srvutil_dtest");
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-dpg-"));
    const server = await startSmtpServer();
    const store = new PgStore(url, { schema, max: 4 });
    try {
      await store.init();
      const deliveries = store.deliveries;
      await deliveries.init();
      await deliveries.enqueue(W47, opts({ now: Date.now(), retryUntil: Date.now() + 60_000 }));
      const env = {
        SRVUTIL_DATA_DIR: dir,
        SRVUTIL_REPORT_TO: "ops@example.com",
        SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${server.port}`,
        SRVUTIL_DELIVERY_POLL_SECONDS: "0.05",
      };
      const config = loadCentralConfig(env);
      const log = new AutomationLog(config.paths.automationLog);
      const running = await startDeliveryScheduler({
        config,
        store,
        log,
        composer: fleetComposer(["web-01"]),
      });
      try {
        await server.waitForMessages(1, 10_000);
      } finally {
        await running.stop();
      }
      expect(await deliveries.get(W47)).toMatchObject({ state: "sent", attempts: 1 });
      expect(server.messages[0]!.parsed.subject).toContain("2026-W47");
      expect(readLog(config.paths.automationLog).some((l) => l.event === "schedule.initialized")).toBe(true);
    } finally {
      await store.close();
      await server.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
