// A small week of real samples, for the delivery tests that send the real weekly report.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { DateTime } from "luxon";
import { openStorage } from "../../../src/central/storage/open.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { shiftDates } from "../../helpers/clock.js";

/**
 * Stores hourly samples for web-01 and db-01 during 2026-W47 (Europe/Berlin)
 * into the SQLite file, or during the week `shiftWeeks` whole weeks later
 * (test/helpers/clock.ts, recentShift) for a test that also posts to that
 * week through ingest, whose horizon refuses a fixed week one day.
 */
export async function ingestWeek(dbFile: string, shiftWeeks = 0): Promise<void> {
  mkdirSync(path.dirname(dbFile), { recursive: true });
  const store = await openStorage(`sqlite:${dbFile}`, {});
  try {
    const start = DateTime.fromISO(shiftDates("2026-11-16T00:00:00", shiftWeeks), {
      zone: "Europe/Berlin",
    }).toMillis();
    for (const server of ["web-01", "db-01"]) {
      const rows: MetricRow[] = [];
      for (let h = 0; h < 7 * 24; h += 1) {
        rows.push({
          timestamp: start + h * 3_600_000 + 1_800_000,
          server,
          cpuPercent: server === "db-01" ? 97 : 20,
          cpuPeakPercent: null,
          intervalSeconds: 3600,
          memTotalBytes: 8e9,
          memUsedBytes: 4e9,
          memAvailableBytes: 4e9,
          diskMount: "/",
          diskTotalBytes: 100e9,
          diskUsedBytes: server === "db-01" ? 97e9 : 40e9,
          diskFreeBytes: server === "db-01" ? 3e9 : 60e9,
        });
      }
      await store.ingest(
        {
          uploadId: `u-${server}`,
          server,
          receivedAt: Date.now(),
          rawPath: `received_metrics/${server}/x.csv`,
          sha256: server,
          bytes: 1,
        },
        rows,
      );
    }
  } finally {
    await store.close();
  }
}
