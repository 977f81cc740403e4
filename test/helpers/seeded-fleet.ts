import type { ReportWeek } from "../../src/central/aggregate/week.js";
import type { Storage } from "../../src/central/storage/store.js";
import { demoFleet } from "./demo-fleet.js";
import { profileRows, randomProfile, rng } from "./fleet.js";
import { upload } from "./store-backends.js";

const DAY = 86_400_000;

/**
 * A real store holding `servers` servers with `historyDays` of history before
 * the week: the ten demo servers (one of each problem) plus random healthy
 * and unhealthy ones sampled every 15 minutes (keeps 100 servers to a few
 * seconds of ingest while the report sees full weeks).
 */
export async function seedFleet(
  store: Storage,
  week: ReportWeek,
  servers: number,
  historyDays = 14,
): Promise<void> {
  await demoFleet(store, week, historyDays);
  const r = rng(4242);
  const from = week.from - historyDays * DAY;
  for (let i = 10; i < servers; i++) {
    const p = randomProfile(r, `node-${String(i + 1).padStart(3, "0")}`);
    p.intervalSeconds = 900;
    p.optionalColumns = true;
    p.dropRate = 0;
    if (i % 17 === 0) p.incident = { from: week.dayStarts[1]!, to: week.dayStarts[4]!, cpu: 70 };
    const rows = [...profileRows(p, from, week.to, 1000 + i)];
    for (let k = 0; k < rows.length; k += 20_000) await upload(store, rows.slice(k, k + 20_000));
  }
}
