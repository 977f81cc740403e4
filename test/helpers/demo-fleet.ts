import type { ReportWeek } from "../../src/central/aggregate/week.js";
import type { Storage } from "../../src/central/storage/store.js";
import { profileRows, randomProfile, rng, type ServerProfile } from "./fleet.js";
import { upload } from "./store-backends.js";

const GiB = 1024 ** 3;
const DAY = 86_400_000;

/**
 * A realistic small fleet for rendering tests and the docs screenshot:
 * mostly healthy servers plus one of each problem the report must surface.
 */
export async function demoFleet(store: Storage, week: ReportWeek, historyDays: number): Promise<void> {
  const r = rng(2026);
  const from = week.from - historyDays * DAY;
  const names = [
    "web-01",
    "web-02",
    "web-03",
    "api-01",
    "api-02",
    "db-01",
    "db-02",
    "cache-01",
    "batch-01",
    "backup-01",
  ];
  const profiles: ServerProfile[] = names.map((n) => {
    const p = randomProfile(r, n);
    p.intervalSeconds = 300;
    p.dropRate = 0;
    p.optionalColumns = true;
    p.cpuBase = 8 + r() * 30;
    p.memBase = 0.3 + r() * 0.35;
    p.diskUsed0 = p.diskTotal.map((t) => Math.round(t * (0.2 + r() * 0.4)));
    p.diskGrowthPerDay = p.diskTotal.map(() => 0);
    return p;
  });
  const by = (n: string) => profiles.find((p) => p.server === n)!;
  // db-01: data disk filling up.
  const db = by("db-01");
  db.mounts = ["/", "/var/lib/postgresql"];
  db.diskTotal = [50 * GiB, 500 * GiB];
  db.diskUsed0 = [18 * GiB, 300 * GiB];
  db.diskGrowthPerDay = [0, 4 * GiB];
  // batch-01: CPU-bound all week.
  by("batch-01").incident = { from: week.dayStarts[1]!, to: week.dayStarts[5]!, cpu: 65 };
  // cache-01: memory pressure.
  by("cache-01").memBase = 0.93;
  // api-02: one bad Wednesday.
  by("api-02").incident = { from: week.dayStarts[2]!, to: week.dayStarts[3]!, cpu: 45 };
  // backup-01: stopped on Thursday.
  by("backup-01").stopAt = week.dayStarts[3]! + 14.5 * 3_600_000;
  // web-03: flaky network, gaps.
  by("web-03").dropRate = 0.25;
  let seed = 1;
  for (const p of profiles) {
    const rows = [...profileRows(p, from, week.to, seed++)];
    for (let k = 0; k < rows.length; k += 5000) await upload(store, rows.slice(k, k + 5000));
  }
}
