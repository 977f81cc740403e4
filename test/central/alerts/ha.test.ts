/**
 * "Two instances on PostgreSQL with one killed mid-evaluation: every state
 * change notified once" (issue 28), with the real clock and real processes:
 * two `central serve` on one schema evaluate every second; four servers
 * upload over HTTP, fall silent and come back, and their /var crosses the
 * disk threshold and back; meanwhile the instances are SIGKILLed again and
 * again (while one holds the evaluation's lease, at random moments, and
 * right after the webhook answered and before the row was marked) and
 * started again. At the end every state change stored (episodes' firingAt
 * and resolvedAt) reached the webhook exactly once per kind, or, for a
 * sender killed between the answer and the mark, once more with the same
 * idempotency key, counted apart. Then a clean stop and start re-notifies
 * nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { isoTime } from "../../../src/central/alerts/channels/format.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import { openStorage } from "../../../src/central/storage/open.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { postMetrics } from "../../../src/demo/upload.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";
import {
  builtCommand,
  type HookReceiver,
  type ReceivedNotice,
  Slot,
  sleep,
  startHookReceiver,
  waitFor,
} from "./ha-harness.js";

const PG = await findTestPostgres();
const GIB = 1024 ** 3;
const CHAOS_MS = 25_000;
/** server_silent after 3 s without a sample. */
const SILENT_MINUTES = 0.05;

/** What each server does `t` seconds into the run: upload or not, and its /var use in percent. */
const PLANS: Record<string, (t: number) => { upload: boolean; varPercent: number }> = {
  "ha-01": (t) => ({ upload: true, varPercent: Math.floor(t / 6) % 2 === 1 ? 90 : 50 }),
  "ha-02": (t) => ({ upload: t % 12 < 6, varPercent: 90 }),
  "ha-03": (t) => ({ upload: t % 14 < 9, varPercent: Math.floor(t / 4) % 2 === 0 ? 90 : 50 }),
  "ha-04": () => ({ upload: true, varPercent: 50 }),
};
const SERVERS = Object.keys(PLANS);

function sample(server: string, timestamp: number, varPercent: number): MetricRow[] {
  const base = {
    timestamp,
    server,
    cpuPercent: 10,
    cpuPeakPercent: null,
    intervalSeconds: 1,
    memTotalBytes: 16 * GIB,
    memUsedBytes: 5 * GIB,
    memAvailableBytes: 11 * GIB,
  };
  const used = varPercent * GIB;
  return [
    { ...base, diskMount: "/", diskTotalBytes: 50 * GIB, diskUsedBytes: 10 * GIB, diskFreeBytes: 40 * GIB },
    {
      ...base,
      diskMount: "/var",
      diskTotalBytes: 100 * GIB,
      diskUsedBytes: used,
      diskFreeBytes: 100 * GIB - used,
    },
  ];
}

const noticeKey = (n: { server: string; rule: string; mount: string; kind: string; startsAt: string }) =>
  `${n.server}|${n.rule}|${n.mount}|${n.kind}|${n.startsAt}`;

describe("alerts with two instances on one PostgreSQL schema, killed again and again", () => {
  const cleanups: (() => Promise<void>)[] = [];
  const slots: Slot[] = [];
  afterAll(async () => {
    for (const s of slots) await s.kill();
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  });

  it("notifies every state change once", async (ctx) => {
    const pgUrl = requirePostgres(ctx, PG);
    builtCommand([]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-alerts-ha-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const { schema, drop } = await createTestSchema(pgUrl, "srvutil_alerts_ha");
    cleanups.push(drop);
    const dbUrl = `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const store: Storage = await openStorage(dbUrl);
    cleanups.push(() => store.close());
    await store.init();
    const sql = new pg.Pool({ connectionString: dbUrl, max: 3 });
    cleanups.push(() => sql.end());
    const hook: HookReceiver = await startHookReceiver(100);
    cleanups.push(() => hook.close());

    const alertsFile = path.join(dir, "alerts.json");
    writeFileSync(
      alertsFile,
      JSON.stringify({
        evaluate_seconds: 1,
        // A short timeout makes the send lease short (2 × 2 s + 5 s): a killed sender's row is taken over soon.
        channels: [{ name: "hook", type: "webhook", url: hook.url, timeout_ms: 2000 }],
        resolve_after_minutes: 0,
        hysteresis_percent: 3,
        reminder_hours: 1,
        storm_threshold: 1000,
        rules: {
          server_silent: { after_minutes: SILENT_MINUTES },
          disk_nearly_full: { for_minutes: 0 },
          disk_full_soon: { enabled: false },
          cpu_pressure: { enabled: false },
          memory_pressure: { enabled: false },
          memory_trend: { enabled: false },
        },
      }),
    );
    const tokens = new Map<string, string>();
    for (const s of SERVERS) tokens.set(s, await createAgentToken(store, s));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SRVUTIL_DB_URL: dbUrl,
      SRVUTIL_REPORT_TZ: "UTC",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_ALERTS_CONFIG: alertsFile,
    };
    slots.push(new Slot("a", dir, env), new Slot("b", dir, env));
    await Promise.all(slots.map((s) => s.start()));

    // Uploads through whichever instance is up; the test's own refresh folds them into the hours the disk rule reads.
    let uploading = true;
    let uploads = 0;
    let uploadFailures = 0;
    const refusals = new Map<string, number>();
    const t0 = Date.now();
    const upload = async (server: string, varPercent: number) => {
      for (const s of [...slots].sort(() => Math.random() - 0.5)) {
        if (!s.ready) continue;
        const answer = await postMetrics(
          s.url,
          tokens.get(server)!,
          sample(server, Date.now(), varPercent),
        ).catch((err: Error) => {
          const why = `unreachable: ${err.message} ${String((err as { cause?: unknown }).cause)}`.slice(
            0,
            120,
          );
          refusals.set(why, (refusals.get(why) ?? 0) + 1);
          return null;
        });
        if (answer?.status === 201) {
          uploads++;
          return;
        }
        if (answer !== null) {
          const why = `${answer.status} ${JSON.stringify(answer.body).slice(0, 80)}`;
          refusals.set(why, (refusals.get(why) ?? 0) + 1);
        }
      }
      uploadFailures++;
    };
    const uploader = (async () => {
      while (uploading) {
        const t = (Date.now() - t0) / 1000;
        await Promise.all(
          SERVERS.map((s) => {
            const p = PLANS[s]!(t);
            return p.upload ? upload(s, p.varPercent) : null;
          }),
        );
        await store.rollups.refresh().catch(() => {});
        await sleep(600);
      }
    })();
    // Evaluations completed, from the lease row every instance shares.
    const periods = new Set<number>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const r = await sql.query<{ done_period: string | null }>(
          "SELECT done_period FROM job_leases WHERE job = 'alerts-evaluate'",
        );
        const done = r.rows[0]?.done_period;
        if (done !== undefined && done !== null) periods.add(Number(done));
        await sleep(100);
      }
    })();

    const kills = { evaluating: 0, random: 0, afterAnswer: 0, total: 0 };
    const holderOf = async (pid: number): Promise<boolean> => {
      const r = await sql.query<{ holder: string | null }>(
        "SELECT holder FROM job_leases WHERE job = 'alerts-evaluate'",
      );
      return r.rows[0]?.holder?.includes(`:${pid}:`) === true;
    };
    const modes = ["evaluating", "random", "afterAnswer", "evaluating", "random"] as const;
    // A killed instance starts again in the background while the other is the next victim.
    const restarts = new Map<Slot, Promise<void>>();
    const restart = (s: Slot) => {
      if (!s.alive && !restarts.has(s))
        restarts.set(
          s,
          s.start().finally(() => restarts.delete(s)),
        );
    };
    for (let round = 0; Date.now() - t0 < CHAOS_MS; round++) {
      // The other instance is up before this one dies: one always evaluates and takes uploads.
      await Promise.all(restarts.values());
      const victim = slots[round % 2]!;
      const mode = modes[round % modes.length]!;
      if (mode === "evaluating") {
        // Killed while it holds the period's lease: between its read and its commit, or in the commit.
        const pid = victim.pid;
        // Polled back to back (a query takes about a millisecond): an evaluation holds it for tens.
        let caught = false;
        for (const until = Date.now() + 4_000; pid !== null && !caught && Date.now() < until; ) {
          caught = await holderOf(pid);
        }
        if (caught) kills.evaluating++;
        else kills.random++;
        await victim.kill();
      } else if (mode === "afterAnswer") {
        // The webhook answers, and the instance that sent it dies before it can mark the row sent.
        let fired = false;
        hook.onRequest = async (notificationId) => {
          if (fired || notificationId === null) return null;
          const rowId = Number(notificationId.replace(/^srvutil-n/, ""));
          const owner = (
            await sql.query<{ lease_owner: string | null }>(
              "SELECT lease_owner FROM alert_notifications WHERE id = $1",
              [rowId],
            )
          ).rows[0]?.lease_owner;
          const sender = slots.find((s) => s.pid !== null && owner?.includes(`:${s.pid}:`) === true);
          if (sender === undefined) return null;
          fired = true;
          return () => {
            sender.ready = false;
            sender.child?.kill("SIGKILL");
          };
        };
        await waitFor("a send to kill after", async () => (fired ? true : null), 6_000).catch(() => false);
        hook.onRequest = null;
        if (fired) kills.afterAnswer++;
        else {
          kills.random++;
          await victim.kill();
        }
      } else {
        await sleep(200 + Math.random() * 1300);
        kills.random++;
        await victim.kill();
      }
      kills.total++;
      await sleep(100);
      for (const s of slots) restart(s);
    }
    await Promise.all(restarts.values());

    // Every server stops: each falls silent (server_silent fires) and its disk alert resolves.
    uploading = false;
    await uploader;
    for (const s of slots) if (!s.alive) await s.start();
    const settled = await waitFor(
      "every server silent and the outbox drained",
      async () => {
        const open = (await store.alerts.readOpen()).episodes;
        const silent = open.filter((e) => e.rule === "server_silent" && e.state === "firing").length;
        const due = [
          ...(await store.alerts.listNotifications({ state: "pending" })),
          ...(await store.alerts.listNotifications({ state: "sending" })),
        ];
        return silent === SERVERS.length && open.length === SERVERS.length && due.length === 0 ? open : null;
      },
      25_000,
    );
    await sleep(2_500);
    polling = false;
    await poller;

    // A clean stop and start of both: nothing is notified again.
    const received = hook.notices.length;
    for (const s of slots) await s.stop();
    await Promise.all(slots.map((s) => s.start()));
    await sleep(3_500);
    expect(hook.notices.length).toBe(received);
    const reopened = (await store.alerts.readOpen()).episodes;
    expect(reopened.map((e) => [e.id, e.state])).toEqual(settled.map((e) => [e.id, e.state]));
    for (const s of slots) await s.stop();

    // What was stored against what arrived.
    const episodes = await store.alerts.list({ limit: 100_000 });
    const expected = new Map<string, number>();
    for (const e of episodes) {
      if (e.firingAt === null) continue;
      const base = { server: e.server, rule: e.rule, mount: e.mount, startsAt: isoTime(e.firingAt) };
      expected.set(noticeKey({ ...base, kind: "firing" }), e.id);
      if (e.resolvedAt !== null) expected.set(noticeKey({ ...base, kind: "resolved" }), e.id);
    }
    const byKey = new Map<string, ReceivedNotice[]>();
    for (const n of hook.notices) byKey.set(noticeKey(n), [...(byKey.get(noticeKey(n)) ?? []), n]);
    const missing = [...expected.keys()].filter((k) => !byKey.has(k));
    const unexpected = [...byKey.keys()].filter((k) => !expected.has(k));
    // A key received twice under one notice id is the same outbox row sent again (the
    // sender died between the answer and the mark); under two ids it would be two rows.
    const redelivered = [...byKey].filter(
      ([, ns]) => ns.length > 1 && new Set(ns.map((n) => n.id)).size === 1,
    );
    const duplicated = [...byKey].filter(([, ns]) => new Set(ns.map((n) => n.id)).size > 1);
    const rows = await store.alerts.listNotifications({ limit: 100_000 });
    const summary = {
      kills,
      starts: slots.map((s) => s.starts),
      startMs: slots.flatMap((s) => s.startMs),
      evaluations: periods.size,
      uploads,
      uploadFailures,
      refusals: Object.fromEntries(refusals),
      episodes: episodes.length,
      stateChanges: expected.size,
      notifications: rows.length,
      requests: hook.requests,
      notices: hook.notices.length,
      missing: missing.length,
      unexpected: unexpected.length,
      duplicated: duplicated.length,
      redelivered: redelivered.length,
      rowsSentMoreThanOnce: rows.filter((r) => r.attempts > 1).length,
    };
    console.log(`alerts HA: ${JSON.stringify(summary)}`);
    expect({ missing, unexpected, duplicated: duplicated.map(([k]) => k) }).toEqual({
      missing: [],
      unexpected: [],
      duplicated: [],
    });
    expect(rows.every((r) => r.state === "sent")).toBe(true);
    // Each repeat is explained: its row was claimed again after its sender's lease ran out.
    for (const [, ns] of redelivered) {
      const rowId = Number(ns[0]!.notificationId!.replace(/^srvutil-n/, ""));
      expect(rows.find((r) => r.id === rowId)?.attempts).toBeGreaterThan(1);
    }
    expect(kills.total).toBeGreaterThanOrEqual(6);
    expect(kills.evaluating).toBeGreaterThanOrEqual(1);
    expect(expected.size).toBeGreaterThanOrEqual(12);
    expect(periods.size).toBeGreaterThanOrEqual(15);
  }, 120_000);
});
