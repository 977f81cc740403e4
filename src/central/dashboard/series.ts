import { DateTime } from "luxon";
import { hourlyRollupsFit } from "../aggregate/rows.js";
import { localDays } from "../aggregate/week.js";
import type { DashboardContext } from "./context.js";

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Up to this span charts use hour points; longer ones use the daily rollups. */
export const HOURLY_MAX_MS = 31 * DAY;

export type RangeKey = "24h" | "7d" | "30d" | "1y" | "custom";
export const RANGE_LABEL: Record<Exclude<RangeKey, "custom">, string> = {
  "24h": "24 hours",
  "7d": "7 days",
  "30d": "30 days",
  "1y": "1 year",
};
const RANGE_MS: Record<Exclude<RangeKey, "custom">, number> = {
  "24h": DAY,
  "7d": 7 * DAY,
  "30d": 30 * DAY,
  "1y": 365 * DAY,
};

export interface ChartRange {
  key: RangeKey;
  from: number;
  to: number;
  /** Custom ranges: the local dates as given (inclusive). */
  fromDate: string;
  toDate: string;
  /** The ISO week shown, when the page was opened from a report link. */
  week: string | null;
  error: string | null;
}

/** The range of the server page from its query: preset, custom dates (local, inclusive) or an ISO week. */
export function parseRange(query: Record<string, unknown>, now: number, timeZone: string): ChartRange {
  const str = (k: string) => (typeof query[k] === "string" ? (query[k] as string) : "");
  const to = Math.floor(now / HOUR) * HOUR + HOUR;
  const dateOf = (ms: number) => DateTime.fromMillis(ms, { zone: timeZone }).toISODate()!;
  const preset = (key: Exclude<RangeKey, "custom">, error: string | null = null): ChartRange => ({
    key,
    from: to - RANGE_MS[key],
    to,
    fromDate: dateOf(to - RANGE_MS[key]),
    toDate: dateOf(now),
    week: null,
    error,
  });
  const week = str("week");
  if (week !== "" && str("range") === "") {
    const m = /^(\d{4})-W(\d{2})$/.exec(week);
    const start = m
      ? DateTime.fromObject(
          { weekYear: Number(m[1]), weekNumber: Number(m[2]), weekday: 1 },
          { zone: timeZone },
        )
      : null;
    if (start === null || !start.isValid)
      return preset("7d", `'${week.slice(0, 20)}' is not an ISO week like 2026-W07`);
    const from = start.startOf("day").toMillis();
    const end = start.plus({ days: 7 }).startOf("day").toMillis();
    return {
      key: "custom",
      from,
      to: end,
      fromDate: start.toISODate()!,
      toDate: start.plus({ days: 6 }).toISODate()!,
      week,
      error: null,
    };
  }
  const key = str("range");
  if (key === "24h" || key === "7d" || key === "30d" || key === "1y") return preset(key);
  if (key === "custom" || str("from") !== "" || str("to") !== "") {
    const a = DateTime.fromISO(str("from"), { zone: timeZone });
    const b = DateTime.fromISO(str("to"), { zone: timeZone });
    if (
      !/^\d{4}-\d{2}-\d{2}$/.test(str("from")) ||
      !/^\d{4}-\d{2}-\d{2}$/.test(str("to")) ||
      !a.isValid ||
      !b.isValid
    ) {
      return preset("7d", "a custom range needs a start and an end date (YYYY-MM-DD)");
    }
    if (b < a) return preset("7d", "the end date is before the start date");
    if (b.diff(a, "days").days > 3 * 366) return preset("7d", "a custom range can be at most three years");
    return {
      key: "custom",
      from: a.startOf("day").toMillis(),
      to: b.plus({ days: 1 }).startOf("day").toMillis(),
      fromDate: a.toISODate()!,
      toDate: b.toISODate()!,
      week: null,
      error: null,
    };
  }
  return preset("7d");
}

/** Chart data, as sent to the browser (times in epoch seconds, uPlot's unit). */
export interface ChartSeries {
  resolution: "hour" | "day";
  /** Epoch seconds of each point's start. */
  t: number[];
  cpuAvg: (number | null)[];
  cpuPeak: (number | null)[];
  memAvg: (number | null)[];
  memPeak: (number | null)[];
  /** Samples behind each point (for weighted averages). */
  samples: number[];
  disks: {
    mount: string;
    percent: (number | null)[];
    usedBytes: (number | null)[];
    totalBytes: number | null;
  }[];
}

/**
 * The series of one server over `range`: hour points up to a month (hourly
 * rollups), day points beyond (daily rollups in the report time zone, or UTC
 * where its midnights are not whole UTC hours), so a year is 365 points.
 */
export async function loadSeries(
  ctx: DashboardContext,
  server: string,
  range: ChartRange,
): Promise<ChartSeries> {
  const out: ChartSeries = {
    resolution: "hour",
    t: [],
    cpuAvg: [],
    cpuPeak: [],
    memAvg: [],
    memPeak: [],
    samples: [],
    disks: [],
  };
  const mounts = new Map<string, ChartSeries["disks"][number]>();
  const mountOf = (name: string) => {
    let m = mounts.get(name);
    if (m === undefined) {
      m = {
        mount: name,
        percent: new Array(out.t.length).fill(null),
        usedBytes: new Array(out.t.length).fill(null),
        totalBytes: null,
      };
      mounts.set(name, m);
    }
    return m;
  };
  const push = (
    t: number,
    samples: number,
    cpuAvg: number | null,
    cpuPeak: number | null,
    memAvg: number | null,
    memPeak: number | null,
    disks: readonly { mount: string; percent: number; usedBytes: number; totalBytes: number }[],
  ) => {
    out.t.push(Math.round(t / 1000));
    out.samples.push(samples);
    out.cpuAvg.push(cpuAvg);
    out.cpuPeak.push(cpuPeak);
    out.memAvg.push(memAvg);
    out.memPeak.push(memPeak);
    for (const m of mounts.values()) {
      m.percent.push(null);
      m.usedBytes.push(null);
    }
    for (const d of disks) {
      const m = mountOf(d.mount);
      m.percent[out.t.length - 1] = d.percent;
      m.usedBytes[out.t.length - 1] = d.usedBytes;
      m.totalBytes = d.totalBytes;
    }
  };
  if (range.to - range.from <= HOURLY_MAX_MS) {
    for (const h of await ctx.store.dashboard.hourPoints(server, range.from, range.to)) {
      push(h.hour, h.samples, h.cpuAvg, h.cpuPeak, h.memAvg, h.memPeak, h.disks);
    }
  } else {
    out.resolution = "day";
    let tz = ctx.timeZone;
    // Every local day the range touches, today included.
    const daysIn = (zone: string) => {
      const first = DateTime.fromMillis(range.from, { zone }).startOf("day");
      const last = DateTime.fromMillis(range.to - 1, { zone }).startOf("day");
      return localDays(first.toISODate()!, Math.round(last.diff(first, "days").days) + 1, zone);
    };
    let span = daysIn(tz);
    if (!hourlyRollupsFit(span)) {
      tz = "UTC";
      span = daysIn(tz);
    }
    const days = (await ctx.store.rollups.readDaily(tz, span, [server])).get(server) ?? [];
    days.forEach((d, i) => {
      if (d.day.samples === 0) return;
      push(
        span.dayStarts[i]!,
        d.day.samples,
        d.day.cpu.avg,
        d.day.cpu.peak,
        d.day.memory.percent_avg,
        d.day.memory.percent_peak,
        d.day.disks.map((x) => ({
          mount: x.mount,
          percent: x.percent,
          usedBytes: x.used_bytes,
          totalBytes: x.total_bytes,
        })),
      );
    });
  }
  out.disks = [...mounts.values()].sort((a, b) => (a.mount < b.mount ? -1 : 1));
  return out;
}

export interface RangeFigures {
  cpuAvg: number | null;
  cpuMax: number | null;
  memAvg: number | null;
  memMax: number | null;
  disks: { mount: string; last: number | null; max: number | null; totalBytes: number | null }[];
  samples: number;
}

/** The average (weighted by samples) and the maximum over the range. */
export function rangeFigures(s: ChartSeries): RangeFigures {
  let n = 0;
  let cpu = 0;
  let mem = 0;
  let cpuMax: number | null = null;
  let memMax: number | null = null;
  s.t.forEach((_, i) => {
    const w = s.samples[i]!;
    if (s.cpuAvg[i] !== null && s.memAvg[i] !== null) {
      n += w;
      cpu += s.cpuAvg[i]! * w;
      mem += s.memAvg[i]! * w;
    }
    const cp = s.cpuPeak[i];
    if (cp !== null && cp !== undefined && (cpuMax === null || cp > cpuMax)) cpuMax = cp;
    const mp = s.memPeak[i];
    if (mp !== null && mp !== undefined && (memMax === null || mp > memMax)) memMax = mp;
  });
  return {
    cpuAvg: n > 0 ? cpu / n : null,
    cpuMax,
    memAvg: n > 0 ? mem / n : null,
    memMax,
    samples: n,
    disks: s.disks.map((d) => {
      const vals = d.percent.filter((v): v is number => v !== null);
      return {
        mount: d.mount,
        last: vals.length > 0 ? vals[vals.length - 1]! : null,
        max: vals.length > 0 ? Math.max(...vals) : null,
        totalBytes: d.totalBytes,
      };
    }),
  };
}
