/**
 * The rules on a worker thread (alerts/judge-worker.ts), on SQLite and
 * PostgreSQL: the worker opens its own connection from the store's
 * readerSpec and judges exactly what the calling thread judges; it sees
 * what is committed after it started; it falls back to the calling thread
 * when its module cannot load; and it stays in the calling thread below
 * WORKER_MIN_SERVERS. Real stores, real clock, samples through the ingest.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultAlertsConfig } from "../../../src/central/alerts/config.js";
import { FleetJudge, type JudgeSettings } from "../../../src/central/alerts/judge.js";
import { WORKER_MIN_SERVERS, WorkerJudge } from "../../../src/central/alerts/judge-worker.js";
import { WORKER_NICE_STEP } from "../../../src/central/alerts/judge-worker-main.js";
import { alertKeyText } from "../../../src/central/alerts/rules.js";
import type { AlertCondition } from "../../../src/central/alerts/types.js";
import type { AutomationLog } from "../../../src/central/automation-log.js";
import { DEFAULT_THRESHOLDS } from "../../../src/central/report/thresholds.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";

const BACKENDS = await storeBackends();
const MIN = 60_000;
const GIB = 1024 ** 3;

const config = defaultAlertsConfig();
const settings: JudgeSettings = {
  rules: config.rules,
  thresholds: DEFAULT_THRESHOLDS,
  hysteresisPercent: config.hysteresisPercent,
};

/** 70 minutes of one sample a minute; `cpu` sustained, `/` at `diskPercent`. */
function rows(server: string, now: number, cpu: number, diskPercent: number): MetricRow[] {
  const out: MetricRow[] = [];
  for (let k = 70; k >= 1; k--) {
    out.push({
      timestamp: now - k * MIN,
      server,
      cpuPercent: cpu,
      cpuPeakPercent: null,
      intervalSeconds: 60,
      memTotalBytes: 16 * GIB,
      memUsedBytes: 4 * GIB,
      memAvailableBytes: 12 * GIB,
      diskMount: "/",
      diskTotalBytes: 100 * GIB,
      diskUsedBytes: diskPercent * GIB,
      diskFreeBytes: (100 - diskPercent) * GIB,
    });
  }
  return out;
}

const keys = (cs: readonly AlertCondition[]) => cs.map((c) => `${alertKeyText(c)} ${c.severity}`).sort();

function recordingLog(): { log: AutomationLog; warnings: string[] } {
  const warnings: string[] = [];
  const log = {
    info() {},
    error() {},
    warn(message: string, fields?: Record<string, unknown>) {
      warnings.push(`${message} ${JSON.stringify(fields ?? {})}`);
    },
  } as unknown as AutomationLog;
  return { log, warnings };
}

describe.each(BACKENDS)("the rules on a worker thread, on $name", ({ skipReason, make }) => {
  let t: TempStore;
  const judges: { close(): Promise<void> }[] = [];
  beforeEach(async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    t = await make();
  });
  afterEach(async () => {
    for (const j of judges.splice(0)) await j.close();
    await t?.cleanup();
  });

  it("judges what the calling thread judges, and sees what is committed after it started", async () => {
    const now = Date.now();
    await upload(t.store, rows("hot-01", now, 97, 30));
    await upload(t.store, rows("full-01", now, 10, 97));
    await upload(t.store, rows("calm-01", now, 10, 30));
    await t.store.rollups.refresh();
    const spec = t.store.readerSpec;
    expect(spec).not.toBeNull();
    const inline = new FleetJudge(t.store.alerts, settings);
    const worker = new WorkerJudge(spec!, settings, new FleetJudge(t.store.alerts, settings), null, {
      minServers: 0,
    });
    judges.push(worker, inline);

    const here = await inline.judge(Date.now(), []);
    const there = await worker.judge(Date.now(), []);
    expect(worker.mode).toBe("worker");
    expect(there.servers).toBe(3);
    // On Linux the worker's thread runs at a lower priority than the uploads' thread, and only it:
    // the kernel's own record of that thread (field 19 of its stat) says so.
    if (process.platform === "linux") {
      const thread = worker.workerThread;
      expect(thread).not.toBeNull();
      expect(thread!.startNice).toBe(os.getPriority(process.pid));
      expect(thread!.nice).toBe(Math.min(19, thread!.startNice + WORKER_NICE_STEP));
      expect(thread!.nice).toBeGreaterThan(os.getPriority(process.pid));
      const stat = readFileSync(`/proc/self/task/${thread!.id}/stat`, "utf8");
      expect(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])).toBe(thread!.nice);
    }
    expect(keys(there.conditions)).toEqual(keys(here.conditions));
    expect(keys(there.conditions)).toEqual([
      "full-01\u0000disk_nearly_full\u0000/ critical",
      "hot-01\u0000cpu_pressure\u0000 critical",
    ]);

    // A server that arrives after the worker opened its connection is judged at the next call.
    await upload(t.store, rows("hot-02", Date.now(), 96, 30));
    await t.store.rollups.refresh();
    const later = await worker.judge(Date.now(), []);
    expect(worker.mode).toBe("worker");
    expect(later.servers).toBe(4);
    expect(keys(later.conditions)).toContain("hot-02\u0000cpu_pressure\u0000 critical");
  });

  it("falls back to the calling thread, once and said in the log, when the worker cannot load", async () => {
    const now = Date.now();
    await upload(t.store, rows("hot-01", now, 97, 30));
    await t.store.rollups.refresh();
    const { log, warnings } = recordingLog();
    const worker = new WorkerJudge(
      t.store.readerSpec!,
      settings,
      new FleetJudge(t.store.alerts, settings),
      log,
      {
        minServers: 0,
        moduleUrl: "file:///nonexistent/srvutil/judge-worker-main.js",
      },
    );
    judges.push(worker);
    for (let i = 0; i < 2; i++) {
      const j = await worker.judge(Date.now(), []);
      expect(worker.mode).toBe("inline");
      expect(keys(j.conditions)).toEqual(["hot-01\u0000cpu_pressure\u0000 critical"]);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/evaluation worker cannot start; evaluating on the main thread/);
  });

  it(`stays in the calling thread below ${WORKER_MIN_SERVERS} servers`, async () => {
    await upload(t.store, rows("calm-01", Date.now(), 10, 30));
    await t.store.rollups.refresh();
    const worker = new WorkerJudge(
      t.store.readerSpec!,
      settings,
      new FleetJudge(t.store.alerts, settings),
      null,
    );
    judges.push(worker);
    for (let i = 0; i < 2; i++) {
      expect((await worker.judge(Date.now(), [])).servers).toBe(1);
      expect(worker.mode).toBe("inline");
    }
  });
});
