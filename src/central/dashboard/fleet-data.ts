import { AGENT_VERSION_CURRENT, isOutdated } from "../agent-release.js";
import type { ServerStatus } from "../model/report.js";
import type { ArchivedReportSummary, ArchivedServerRow } from "../storage/report-archive-store.js";
import type { ScrapeStatus } from "../storage/scrape-status-store.js";
import type { ServerInput } from "../storage/server-input-store.js";
import { type EffectiveTag, effectiveTags } from "../storage/tag-store.js";
import type { DashboardContext } from "./context.js";

const HOUR = 3_600_000;

export interface FleetRow {
  server: string;
  status: ServerStatus;
  /** Why the status is not ok (live figures), or null. */
  why: string | null;
  /** When its newest sample arrived; null: none yet (a scrape target that never answered). */
  lastSeen: number | null;
  /** Newest hour's averages, and the fullest mount then. */
  cpu: number | null;
  memory: number | null;
  /** Start of the newest hour with samples in the last 24 hours (epoch ms), or null. */
  newestHour: number | null;
  /** The memory size in the newest hour's last sample, bytes, or null. */
  memTotalBytes: number | null;
  disk: { mount: string; percent: number } | null;
  /** 24 hourly CPU and memory averages, oldest first (null: no samples that hour). */
  cpuHours: (number | null)[];
  memHours: (number | null)[];
  groups: string[];
  /** Its effective tags now, by key (the central's win; see store.tags). */
  tags: ReadonlyMap<string, EffectiveTag>;
  /** What feeds it: the agent (its release, OS, last refused upload) or a foreign input; null: not recorded yet. */
  input: ServerInput | null;
}

export interface FleetData {
  now: number;
  rows: FleetRow[];
  counts: Record<ServerStatus, number>;
  /** Agents whose release is below the one this central ships (./fleet-agents.ts). */
  outdated: number;
  /** The agent release this central ships. */
  agentVersionCurrent: string;
  /** The newest archived report (the default group's when it has one). */
  report: ArchivedReportSummary | null;
  needsAction: ArchivedServerRow[];
  /** Informational findings of that report: changes to servers (issue 16's kinds). */
  changes: { server: string; kind: string; message: string; mount?: string }[];
}

export const CHANGE_KINDS = new Set([
  "ram_changed",
  "disk_resized",
  "mount_added",
  "mount_removed",
  "new_server",
]);
const STATUS_RANK: Record<ServerStatus, number> = { critical: 0, silent: 1, warning: 2, ok: 3 };
export const statusRank = (s: ServerStatus): number => STATUS_RANK[s];

/**
 * Everything the fleet page shows, in three reads: the server list, the
 * last 24 hours of hourly rollups of every server (one batched read), and
 * the newest report's per-server rows.
 *
 * The live status uses the report's thresholds on the last 24 hours:
 * silent when nothing arrived for silent_after_hours; critical / warning
 * when the 24-hour CPU or memory average, or the fullest disk now, reaches
 * the day-average / disk thresholds. A scrape target whose scrape fails
 * (store.scrapeStatus) is silent now, saying why, and is listed even before
 * its first sample. The weekly report stays the authority; this is the
 * "right now" view between two reports.
 */
export async function loadFleet(ctx: DashboardContext, cache?: FleetCache): Promise<FleetData> {
  const now = ctx.clock();
  const to = Math.floor(now / HOUR) * HOUR + HOUR;
  const from = to - 24 * HOUR;
  // New uploads first, so a server's newest hour shows at once.
  const generation = await ctx.freshRollups();
  const [{ servers, hours }, reports, scrapes, inputList, tagRows] = await Promise.all([
    cache !== undefined ? cache.get(ctx, from, to, generation) : readLive(ctx, from, to),
    ctx.store.reports.list(20),
    ctx.store.scrapeStatus.list(),
    ctx.store.serverInputs.list(),
    ctx.store.tags.current(),
  ]);
  const tags = effectiveTags(tagRows);
  const tagsOf = (server: string): ReadonlyMap<string, EffectiveTag> => tags.get(server) ?? new Map();
  const inputs = new Map(inputList.map((x) => [x.server, x]));
  const failing = new Map(scrapes.filter((x) => x.state === "down").map((x) => [x.server, x]));
  const t = ctx.thresholds;
  const counts: Record<ServerStatus, number> = { ok: 0, warning: 0, critical: 0, silent: 0 };
  const rows: FleetRow[] = servers.map((s) => {
    const h = hours.get(s.server);
    const cpuHours: (number | null)[] = new Array(24).fill(null);
    const memHours: (number | null)[] = new Array(24).fill(null);
    let cpuSum = 0;
    let memSum = 0;
    let n = 0;
    for (const x of h?.hours ?? []) {
      const i = (x.hour - from) / HOUR;
      cpuHours[i] = x.cpuAvg;
      memHours[i] = x.memAvg;
      cpuSum += x.cpuAvg;
      memSum += x.memAvg;
      n++;
    }
    const cpuDay = n > 0 ? cpuSum / n : null;
    const memDay = n > 0 ? memSum / n : null;
    const disk = h?.latest.worstDisk ?? null;
    let status: ServerStatus = "ok";
    let why: string | null = null;
    if (now - s.lastSeen > t.silent_after_hours * HOUR) {
      status = "silent";
      why = `no data for more than ${t.silent_after_hours} h`;
    } else {
      const checks: [number | null, number, number, string][] = [
        [cpuDay, t.cpu_day_avg_warning, t.cpu_day_avg_critical, "CPU 24 h average"],
        [memDay, t.memory_day_avg_warning, t.memory_day_avg_critical, "memory 24 h average"],
        [disk?.percent ?? null, t.disk_percent_warning, t.disk_percent_critical, `disk ${disk?.mount ?? ""}`],
      ];
      for (const [v, warn, crit, label] of checks) {
        if (v === null) continue;
        if (v >= crit && status !== "critical") {
          status = "critical";
          why = `${label} ${v.toFixed(0)} % ≥ ${crit} %`;
        } else if (v >= warn && status === "ok") {
          status = "warning";
          why = `${label} ${v.toFixed(0)} % ≥ ${warn} %`;
        }
      }
    }
    const scrape = failing.get(s.server);
    if (scrape !== undefined) {
      status = "silent";
      why = scrapeFailingWhy(scrape);
    }
    counts[status]++;
    return {
      server: s.server,
      status,
      why,
      lastSeen: s.lastSeen,
      cpu: h?.latest.cpuAvg ?? null,
      memory: h?.latest.memAvg ?? null,
      newestHour: h?.latest.hour ?? null,
      memTotalBytes: h?.latest.memTotalBytes ?? null,
      disk,
      cpuHours,
      memHours,
      ...groupsAndTags(ctx, s.server, tagsOf(s.server)),
      input: inputs.get(s.server) ?? null,
    };
  });

  const listed = new Set(servers.map((s) => s.server));
  for (const scrape of failing.values()) {
    if (listed.has(scrape.server)) continue;
    counts.silent++;
    rows.push(
      silentWithoutSamples(
        scrape.server,
        scrapeFailingWhy(scrape),
        inputs.get(scrape.server) ?? null,
        groupsAndTags(ctx, scrape.server, tagsOf(scrape.server)),
      ),
    );
  }

  // An agent that authenticated but never got a sample stored (every upload refused, or only
  // `install` so far): listed, so its last error shows where someone looks.
  for (const input of inputs.values()) {
    if (listed.has(input.server) || failing.has(input.server)) continue;
    counts.silent++;
    rows.push(
      silentWithoutSamples(
        input.server,
        input.lastError === null ? "no samples yet" : "no samples yet: uploads refused",
        input,
        groupsAndTags(ctx, input.server, tagsOf(input.server)),
      ),
    );
  }

  const newestWeek = reports[0]?.week;
  const report =
    newestWeek === undefined
      ? null
      : (reports.find((r) => r.week === newestWeek && r.group === "default") ??
        reports.find((r) => r.week === newestWeek) ??
        null);
  const serverRows = report === null ? [] : await ctx.store.reports.serverRows(report.week, report.group);
  const needsAction = serverRows
    .filter((r) => r.status !== "ok")
    .sort((a, b) => statusRank(a.status) - statusRank(b.status) || (a.server < b.server ? -1 : 1));
  const changes = serverRows.flatMap((r) =>
    r.findings
      .filter((f) => CHANGE_KINDS.has(f.kind))
      .map((f) => ({
        server: r.server,
        kind: f.kind,
        message: f.message,
        ...(f.mount !== undefined ? { mount: f.mount } : {}),
      })),
  );
  const outdated = rows.filter((r) => isOutdated(r.input, AGENT_VERSION_CURRENT)).length;
  return {
    now,
    rows,
    counts,
    outdated,
    agentVersionCurrent: AGENT_VERSION_CURRENT,
    report,
    needsAction,
    changes,
  };
}

/** How much of a scrape error the fleet table shows (the server page shows it whole). */
const WHY_ERROR_CHARS = 120;

/** "scrape failing: connect ECONNREFUSED 10.0.0.6:9100", the error clipped for a table cell. */
/** A server listed without a stored sample: a failing scrape target, or an agent whose uploads were all refused. */
function silentWithoutSamples(
  server: string,
  why: string,
  input: ServerInput | null,
  membership: Pick<FleetRow, "groups" | "tags">,
): FleetRow {
  return {
    server,
    status: "silent",
    why,
    lastSeen: null,
    cpu: null,
    memory: null,
    newestHour: null,
    memTotalBytes: null,
    disk: null,
    cpuHours: new Array(24).fill(null),
    memHours: new Array(24).fill(null),
    ...membership,
    input,
  };
}

/** The configured groups (not the whole fleet's) a server is in now, and its tags. */
function groupsAndTags(
  ctx: DashboardContext,
  server: string,
  tags: ReadonlyMap<string, EffectiveTag>,
): Pick<FleetRow, "groups" | "tags"> {
  const values = Object.fromEntries([...tags].map(([k, t]) => [k, t.value]));
  return {
    groups: ctx.groups.filter((g) => !g.wholeFleet && g.includes(server, values)).map((g) => g.name),
    tags,
  };
}

export function scrapeFailingWhy(scrape: ScrapeStatus): string {
  const chars = [...(scrape.lastError ?? "no error recorded")];
  const error =
    chars.length <= WHY_ERROR_CHARS ? chars.join("") : `${chars.slice(0, WHY_ERROR_CHARS - 1).join("")}…`;
  return `scrape failing: ${error}`;
}

type LiveFleet = {
  servers: Awaited<ReturnType<DashboardContext["store"]["listServers"]>>;
  hours: Awaited<ReturnType<DashboardContext["store"]["dashboard"]["fleetHours"]>>;
};

async function readLive(ctx: DashboardContext, from: number, to: number): Promise<LiveFleet> {
  const [servers, hours] = await Promise.all([
    ctx.store.listServers(),
    ctx.store.dashboard.fleetHours(from, to),
  ]);
  return { servers, hours };
}

/**
 * The fleet's last 24 hours, kept for a few seconds per instance: the
 * figures are hourly averages that the rollup refresher updates every few
 * seconds anyway, and several people (or one reloading) should not each
 * cost a read of 1,000 servers × 24 hours. Read-only, so instances need not agree.
 */
export class FleetCache {
  private entry: { at: number; to: number; generation: number; data: Promise<LiveFleet> } | null = null;
  constructor(readonly ttlMs = 15_000) {}

  /** `generation`: the rollups' (ctx.freshRollups); a read under an older one is not reused. */
  get(ctx: DashboardContext, from: number, to: number, generation = 0): Promise<LiveFleet> {
    const now = ctx.clock();
    const e = this.entry;
    if (
      this.ttlMs > 0 &&
      e !== null &&
      e.to === to &&
      e.generation === generation &&
      now - e.at < this.ttlMs &&
      now >= e.at
    )
      return e.data;
    const data = readLive(ctx, from, to);
    this.entry = { at: now, to, generation, data };
    data.catch(() => {
      if (this.entry?.data === data) this.entry = null;
    });
    return data;
  }
}

export interface FleetQuery {
  q: string;
  status: ServerStatus | "";
  group: string;
  /** `team=payments`: only servers whose effective tag has that value; "" none. */
  tag: string;
  sort: "name" | "status" | "cpu" | "memory" | "disk" | "seen";
  dir: "asc" | "desc";
  /** Rows per page (0: all) and the page, from 1. */
  per: number;
  page: number;
}

export const FLEET_PAGE_SIZES = [100, 500, 0] as const;

const SORTS = new Set(["name", "status", "cpu", "memory", "disk", "seen"]);

export function parseFleetQuery(query: Record<string, unknown>): FleetQuery {
  const str = (k: string) => (typeof query[k] === "string" ? (query[k] as string).slice(0, 100) : "");
  const status = str("status");
  const sort = str("sort");
  return {
    q: str("q").trim(),
    status:
      status === "ok" || status === "warning" || status === "critical" || status === "silent" ? status : "",
    group: str("group"),
    tag: str("tag").trim(),
    sort: SORTS.has(sort) ? (sort as FleetQuery["sort"]) : "status",
    dir: str("dir") === "desc" ? "desc" : "asc",
    per: str("per") === "all" ? 0 : str("per") === "500" ? 500 : 100,
    page: Math.max(1, Math.min(10_000, Number.parseInt(str("page"), 10) || 1)),
  };
}

export function filterFleet(rows: FleetRow[], q: FleetQuery): FleetRow[] {
  const needle = q.q.toLowerCase();
  const eq = q.tag.indexOf("=");
  const [tagKey, tagValue] = eq < 0 ? [q.tag, null] : [q.tag.slice(0, eq), q.tag.slice(eq + 1)];
  const out = rows.filter(
    (r) =>
      (needle === "" || r.server.toLowerCase().includes(needle)) &&
      (q.status === "" || r.status === q.status) &&
      (q.group === "" || r.groups.includes(q.group)) &&
      // `team` alone: any value of that tag.
      (q.tag === "" || (r.tags.has(tagKey) && (tagValue === null || r.tags.get(tagKey)?.value === tagValue))),
  );
  const num = (v: number | null | undefined) => (v === null || v === undefined ? -1 : v);
  const key: Record<FleetQuery["sort"], (r: FleetRow) => number | string> = {
    name: (r) => r.server,
    status: (r) => statusRank(r.status),
    cpu: (r) => num(r.cpu),
    memory: (r) => num(r.memory),
    disk: (r) => num(r.disk?.percent),
    seen: (r) => r.lastSeen ?? -1,
  };
  const k = key[q.sort];
  const sign = q.dir === "desc" ? -1 : 1;
  return out.sort((a, b) => {
    const x = k(a);
    const y = k(b);
    if (x < y) return -sign;
    if (x > y) return sign;
    return a.server < b.server ? -1 : a.server > b.server ? 1 : 0;
  });
}
