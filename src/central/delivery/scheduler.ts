import { Cron } from "croner";
import type { AutomationLog } from "../automation-log.js";
import type { CentralConfig } from "../config.js";
import { createMailTransport } from "../mail/index.js";
import type { MailTransport } from "../mail/transport.js";
import type { Storage } from "../storage/store.js";
import { type ReportComposer, weeklyReportComposer } from "./composer.js";
import { loadDeliveryGroups } from "./groups.js";
import { type AttemptResult, DeliveryService, type DeliveryServiceOptions } from "./service.js";
import type { DeliverySettings } from "./settings.js";
import type { DeliveryStore } from "./store.js";
import { isoWeekBefore } from "./week.js";

export interface RunningScheduler {
  stop(): Promise<void>;
}

/** The schedule's row in delivery_schedule. */
export const WEEKLY_SCHEDULE = "weekly-report";

export interface ScheduleCheck {
  /** The schedule tick this check handled, or null when there was nothing to do. */
  tick: number | null;
  week: string | null;
  /** True when the tick was missed while no scheduler ran (downtime). */
  catchUp: boolean;
}

export interface RunningDeliveryEngine extends RunningScheduler {
  readonly service: DeliveryService;
  /** Runs the schedule tick due at `now` if nobody ran it yet (normally driven by croner). */
  checkSchedule(now?: number): Promise<ScheduleCheck>;
  /** Sends what is due now (normally driven by the poll timer). */
  processDue(): Promise<AttemptResult[]>;
  /** The next scheduled run, or null when the schedule is off. */
  nextRun(): Date | null;
}

/** The delivery service's options, with retry timing and lease from the settings. */
export type DeliveryEngineOptions = Omit<DeliveryServiceOptions, "retry" | "leaseMs"> & {
  settings: DeliverySettings;
  /** Close the transport on stop (default true). */
  closeTransport?: boolean;
};

/**
 * The delivery engine of one `central serve` process:
 * - croner fires the cron expression in the report time zone; each tick
 *   queues one delivery per group for the ISO week before the tick;
 * - at start, the latest tick since the last recorded one is run once
 *   (catch-up after downtime; earlier missed ticks are skipped and logged);
 *   on the very first start the schedule is only initialized;
 * - a poll timer sends due deliveries (its own, retries, ones queued by the
 *   CLI or left pending by a process that stopped).
 * Several processes may run this on the same database: ticks and deliveries
 * are claimed atomically in the store.
 */
export async function startDeliveryEngine(o: DeliveryEngineOptions): Promise<RunningDeliveryEngine> {
  const clock = o.clock ?? Date.now;
  const { settings, log, deliveries } = o;
  await deliveries.init();
  const service = new DeliveryService({
    deliveries,
    transport: o.transport,
    composer: o.composer,
    groups: o.groups,
    log,
    mailFrom: o.mailFrom,
    timeZone: o.timeZone,
    retry: settings.retry,
    leaseMs: settings.leaseMs,
    owner: o.owner,
    clock,
  });

  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<AttemptResult[]> | null = null;
  let again = false;

  const pattern =
    settings.cron === null ? null : new Cron(settings.cron, { timezone: o.timeZone, paused: true });

  async function checkSchedule(now: number = clock()): Promise<ScheduleCheck> {
    if (pattern === null) return { tick: null, week: null, catchUp: false };
    const tick = pattern.previousRuns(1, new Date(now))[0]?.getTime();
    if (tick === undefined) return { tick: null, week: null, catchUp: false };
    const last = await deliveries.lastScheduledTick(WEEKLY_SCHEDULE);
    if (last === null) {
      // First start ever: there is no downtime to catch up on. Remember the
      // latest tick so the next one (or a later catch-up) is measured from here.
      if (await deliveries.claimScheduledTick(WEEKLY_SCHEDULE, tick, now)) {
        log.info("schedule.initialized", {
          cron: settings.cron,
          timezone: o.timeZone,
          next_run: pattern.nextRun(new Date(now))?.toISOString() ?? null,
        });
      }
      return { tick: null, week: null, catchUp: false };
    }
    if (tick <= last) return { tick: null, week: null, catchUp: false };
    const catchUp = now - tick > 60_000;
    const week = isoWeekBefore(tick, o.timeZone);
    const trigger = catchUp ? "catch-up" : "schedule";
    const keys = o.groups.map((g) => ({ week, group: g.name }));
    const claimed = await deliveries.claimScheduledTick(WEEKLY_SCHEDULE, tick, now, {
      keys,
      options: { now, trigger, retryUntil: now + settings.retry.retryForMs },
    });
    if (!claimed) return { tick: null, week: null, catchUp: false }; // another process ran it
    const skipped = catchUp ? countTicksBetween(pattern, last, tick) : 0;
    log.info("schedule.run", {
      tick: new Date(tick).toISOString(),
      week,
      catch_up: catchUp,
      groups: keys.map((k) => k.group),
      ...(skipped > 0 ? { skipped_missed_runs: skipped } : {}),
    });
    return { tick, week, catchUp };
  }

  function processDue(): Promise<AttemptResult[]> {
    if (running !== null) {
      again = true;
      return running;
    }
    running = (async () => {
      const all: AttemptResult[] = [];
      try {
        do {
          again = false;
          all.push(...(await service.processDue({ maxAttempts: 100 })));
        } while (again && !stopped);
      } catch (err) {
        log.error("delivery.worker_error", { error: (err as Error).message });
      } finally {
        running = null;
      }
      return all;
    })();
    return running;
  }

  async function loop(): Promise<void> {
    timer = null;
    if (stopped) return;
    try {
      await checkSchedule();
      await processDue();
      const wake = await deliveries.nextWakeUp();
      const now = clock();
      const delay = wake === null ? settings.pollMs : Math.min(Math.max(wake - now, 10), settings.pollMs);
      if (!stopped) timer = setTimeout(loop, delay);
    } catch (err) {
      log.error("delivery.worker_error", { error: (err as Error).message });
      if (!stopped) timer = setTimeout(loop, settings.pollMs);
    }
  }

  const job =
    settings.cron === null
      ? null
      : new Cron(settings.cron, { timezone: o.timeZone, protect: true }, async () => {
          try {
            await checkSchedule();
            await processDue();
          } catch (err) {
            log.error("schedule.error", { error: (err as Error).message });
          }
        });

  log.info("scheduler.started", {
    owner: service.owner,
    cron: settings.cron,
    timezone: o.timeZone,
    transport: o.transport.description,
    groups: o.groups.map((g) => g.name),
    next_run: job?.nextRun()?.toISOString() ?? null,
  });
  // The catch-up check is quick (database only) and done before returning so
  // that `central serve` logs it at start-up; sending runs in the background
  // so a slow mail server never delays the API.
  await checkSchedule();
  timer = setTimeout(loop, 0);

  return {
    service,
    checkSchedule,
    processDue,
    nextRun: () => pattern?.nextRun(new Date(clock())) ?? null,
    async stop() {
      if (stopped) return;
      stopped = true;
      job?.stop();
      if (timer !== null) clearTimeout(timer);
      if (running !== null) await running;
      if (o.closeTransport !== false) o.transport.close();
      log.info("scheduler.stopped", { owner: service.owner });
    },
  };
}

function countTicksBetween(pattern: Cron, after: number, before: number): number {
  let n = 0;
  let t: Date | null = new Date(after);
  // Bounded: a per-minute cron over a long outage must not loop for ages.
  while (n < 10_000) {
    t = pattern.nextRun(t);
    if (t === null || t.getTime() >= before) break;
    n++;
  }
  return n;
}

/**
 * Starts the weekly report schedule (and resumes pending deliveries) inside
 * `central serve`, with the delivery settings of the config (SRVUTIL_REPORT_CRON,
 * SRVUTIL_GROUPS_FILE, retry timings); the optional fields are for tests and embedding.
 */
export async function startDeliveryScheduler(deps: {
  config: CentralConfig;
  store: Storage;
  log: AutomationLog;
  composer?: ReportComposer;
  deliveries?: DeliveryStore;
  transport?: MailTransport;
}): Promise<RunningScheduler> {
  const settings = deps.config.delivery;
  const groups = loadDeliveryGroups(settings.groupsFile, deps.config.reportTo);
  const transport =
    deps.transport ??
    createMailTransport(
      { smtpUrl: deps.config.smtpUrl, outboxDir: deps.config.paths.outbox },
      deps.config.smtp,
    );
  if (transport.kind === "smtp") {
    for (const g of groups) {
      if (g.recipients.to.length + g.recipients.cc.length + g.recipients.bcc.length === 0) {
        deps.log.error("delivery.no_recipients", {
          group: g.name,
          fix: "set SRVUTIL_REPORT_TO or the group's recipients in SRVUTIL_GROUPS_FILE",
        });
      }
    }
  }
  return startDeliveryEngine({
    deliveries: deps.deliveries ?? deps.store.deliveries,
    transport,
    composer:
      deps.composer ??
      weeklyReportComposer(deps.store, {
        thresholds: deps.config.thresholds,
        digest: deps.config.digest,
        groups,
      }),
    groups,
    log: deps.log,
    mailFrom: deps.config.mailFrom,
    timeZone: deps.config.reportTimeZone,
    settings,
    closeTransport: deps.transport === undefined,
  });
}
