/**
 * bench:footprint's arithmetic and tables: each object's growth per
 * server-day times the server-days its retention keeps. See ./run.ts.
 */
import type { RetentionSettings } from "../../src/central/retention.js";
import type { Run } from "./sizes.js";

export interface Plan {
  servers: number;
  days: number;
  rounds: number;
  mounts: number;
  retention: RetentionSettings;
}

const MB = 1e6;
export type Component = "archive" | "raw samples" | "hourly" | "daily" | "indexes" | "other";
const COMPONENTS: Component[] = ["archive", "raw samples", "hourly", "daily", "indexes", "other"];

/** Per table: its component and the server-days a server-year keeps of it (0: per server, not per day). */
export function retentionDays(defaults: RetentionSettings): Record<string, [Component, number]> {
  if (defaults.rawDays === null || defaults.hourlyMonths === null || defaults.receivedMetricsDays !== null)
    throw new Error(`unexpected retention defaults ${JSON.stringify(defaults)}`);
  const hourlyDays = Math.round((defaults.hourlyMonths * 365.25) / 12);
  return {
    samples: ["raw samples", defaults.rawDays],
    rollup_hourly: ["hourly", hourlyDays],
    rollup_hourly_disk: ["hourly", hourlyDays],
    rollup_hour_seen: ["hourly", hourlyDays - defaults.rawDays], // sealed hours only
    rollup_daily: ["daily", 365],
    rollup_daily_disk: ["daily", 365],
    raw_uploads: ["archive", 365],
    received_metrics: ["archive", 365],
    uploads: ["other", 365], // one row per upload, never pruned
  };
}

/** Prints the tables of bench:footprint from its runs. */
export function printReport(runs: Run[], plan: Plan): void {
  const kept = retentionDays(plan.retention);
  const keptOf = (table: string): [Component, number] => kept[table] ?? ["other", 0];
  const serverDays = plan.servers * plan.days;
  /** MB per server-year of one object: its growth per server-day times the days kept, or once per server. */
  function perYear(table: string, bytes: number): number {
    const days = keptOf(table)[1];
    return (days === 0 ? bytes / plan.servers : (bytes / serverDays) * days) / MB;
  }

  function components(r: Run): Record<Component | "total", number> {
    const out = Object.fromEntries([...COMPONENTS, "total"].map((c) => [c, 0])) as Record<
      Component | "total",
      number
    >;
    const put = (c: Component, mb: number) => {
      out[c] += mb;
      out.total += mb;
    };
    for (const [t, s] of r.sizes) {
      put(keptOf(t)[0], perYear(t, s.table));
      for (const bytes of s.indexes.values()) put("indexes", perYear(t, bytes));
    }
    if (r.archive !== null) put("archive", perYear("received_metrics", r.archive.allocated));
    return out;
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const fmt = (x: number, d = 1) =>
    x.toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d });
  const span = (xs: number[], d = 1) => {
    const lo = fmt(Math.min(...xs), d);
    const hi = fmt(Math.max(...xs), d);
    return lo === hi ? fmt(median(xs), d) : `${fmt(median(xs), d)} (${lo}–${hi})`;
  };

  const backends = [...new Set(runs.map((r) => r.backend))];
  const of = (b: string) => runs.filter((r) => r.backend === b);
  const rows = serverDays * 1440 * plan.mounts;
  console.log(`\n### Per server-year, MB (median of ${plan.rounds} rounds, range)\n`);
  console.log(`| component | ${backends.join(" | ")} |`);
  console.log(`|---|${backends.map(() => "---:").join("|")}|`);
  const comps = new Map(backends.map((b) => [b, of(b).map(components)]));
  for (const c of [...COMPONENTS, "total"] as const) {
    const cells = backends.map((b) => span(comps.get(b)!.map((x) => x[c])));
    console.log(
      c === "total"
        ? `| **total** | ${cells.map((x) => `**${x}**`).join(" | ")} |`
        : `| ${c} | ${cells.join(" | ")} |`,
    );
  }

  console.log(`\n### Where the bytes go (median round): growth over the empty store\n`);
  console.log(
    "| backend | table | object | measured KB | bytes per server-day | kept (server-days per year) | MB per server-year |",
  );
  console.log("|---|---|---|---:|---:|---:|---:|");
  for (const b of backends) {
    const totals = of(b).map((r) => components(r).total);
    const r = of(b)[totals.indexOf(median(totals))]!;
    const objects: [string, string, number][] = [];
    for (const [t, s] of r.sizes) {
      objects.push([t, "table", s.table]);
      for (const [i, bytes] of s.indexes) objects.push([t, `index ${i}`, bytes]);
    }
    if (r.archive !== null) objects.push(["received_metrics", "files (allocated)", r.archive.allocated]);
    for (const [t, o, bytes] of objects.sort((x, y) => perYear(y[0], y[2]) - perYear(x[0], x[2]))) {
      if (bytes === 0) continue;
      const days = keptOf(t)[1];
      console.log(
        `| ${b} | ${t} | ${o} | ${fmt(bytes / 1024, 0)} | ${days === 0 ? "per server" : fmt(bytes / serverDays, 0)} | ${days === 0 ? "once" : days} | ${fmt(perYear(t, bytes), 2)} |`,
      );
    }
  }

  console.log(
    `\n### Per stored sample (${plan.servers} servers × ${plan.days} days: ${fmt(rows / 2, 0)} samples, ${fmt(rows, 0)} rows)\n`,
  );
  console.log(
    "| backend | database growth MB | bytes per row | bytes per sample | samples table + its indexes, bytes per row | raw archive on disk MB | archive bytes per sample |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const b of backends) {
    const db = of(b).map((r) =>
      [...r.sizes.values()].reduce(
        (n, s) => n + s.table + [...s.indexes.values()].reduce((x, y) => x + y, 0),
        0,
      ),
    );
    const sampleBytes = of(b).map((r) => {
      const s = r.sizes.get("samples")!;
      return s.table + [...s.indexes.values()].reduce((x, y) => x + y, 0);
    });
    const archive = of(b).map((r) => (r.archive?.allocated ?? 0) + (r.sizes.get("raw_uploads")?.table ?? 0));
    console.log(
      `| ${b} | ${span(db.map((x) => x / MB))} | ${span(
        db.map((x) => x / rows),
        0,
      )} | ${span(
        db.map((x) => (2 * x) / rows),
        0,
      )} | ${span(
        sampleBytes.map((x) => x / rows),
        0,
      )} | ${span(archive.map((x) => x / MB))} | ${span(
        archive.map((x) => (2 * x) / rows),
        0,
      )} |`,
    );
  }
  for (const r of runs.slice(0, backends.length)) {
    if (r.archive !== null) {
      const a = r.archive;
      console.log(
        `\n${r.backend} received_metrics/ (round 1): ${a.files} files, ${fmt(a.apparent / MB)} MB of CSV, ${fmt(a.allocated / MB)} MB allocated on disk; gzip (zlib level 6) ${fmt(a.gzipPerFile / MB)} MB one file at a time (${fmt(a.apparent / a.gzipPerFile)}× smaller), ${fmt(a.gzipPerServerDay / MB)} MB one stream per server-day (${fmt(a.apparent / a.gzipPerServerDay)}× smaller).`,
      );
      console.log(
        `${r.backend} database file: ${fmt(r.file!.bytes / MB)} MB, of which ${fmt(r.file!.free / MB, 2)} MB free pages (not counted above).`,
      );
    } else {
      const raw = r.sizes.get("raw_uploads");
      console.log(
        `\n${r.backend} raw_uploads (round 1, gzip per upload): ${fmt((raw?.table ?? 0) / MB)} MB table + ${fmt([...(raw?.indexes.values() ?? [])].reduce((x, y) => x + y, 0) / MB)} MB indexes for ${fmt(r.rawBodyBytes / MB)} MB of CSV received.`,
      );
    }
    if (r.asWritten !== null) {
      const written = of(r.backend).map((x) => components({ ...x, sizes: x.asWritten! }).total);
      console.log(
        `${r.backend} as written, before VACUUM FULL (dead versions of the rollup rows each refresh rewrote): ${span(written)} MB per server-year reckoned the same way; the tables above are after it.`,
      );
    }
  }

  console.log(`\n### Sizing: disk per year of history, GB (median round)\n`);
  console.log(`| servers | ${backends.join(" | ")} |`);
  console.log(`|---:|${backends.map(() => "---:").join("|")}|`);
  for (const n of [10, 100, 1_000, 10_000]) {
    const cells = backends.map((b) =>
      fmt((median(comps.get(b)!.map((x) => x.total)) * n) / 1000, n < 100 ? 2 : 1),
    );
    console.log(`| ${n.toLocaleString("en")} | ${cells.join(" | ")} |`);
  }
  const sqlite = comps.get("SQLite");
  if (sqlite !== undefined)
    console.log(
      `\nfloor (issue 31): ≤ 30 MB per server-year on SQLite (goal ≤ 10 MB) — measured ${fmt(median(sqlite.map((x) => x.total)))} MB`,
    );
}
