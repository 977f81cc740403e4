/**
 * A seed raw file whose upload is missing from the database (a power loss
 * after the raw file was fsynced) is put back by startup recovery, read in
 * the zone its name records, not the service's default.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IngestService } from "../../../../src/central/ingest/ingest-service.js";
import { parseRawFileName, rawFileName } from "../../../../src/central/ingest/seed/format.js";
import { SqliteStore } from "../../../../src/central/storage/sqlite/sqlite-store.js";
import { REPO_ROOT } from "../../../helpers/cli.js";
import { shiftDates, weeksToRecent } from "../../../helpers/clock.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("seed raw files", () => {
  it("name the zone reversibly, and plain CSV v1 names stay as they were", () => {
    const id = "20261201T203000123Z-0123456789ab";
    expect(rawFileName(id, "America/Argentina/Buenos_Aires")).toBe(
      `${id}.seed.America%2FArgentina%2FBuenos_Aires.csv`,
    );
    expect(parseRawFileName(rawFileName(id, "Etc/GMT+5"))).toEqual({
      uploadId: id,
      seedTimeZone: "Etc/GMT+5",
    });
    expect(parseRawFileName(`${id}.csv`)).toEqual({ uploadId: id, seedTimeZone: null });
    expect(parseRawFileName(`${id}.txt`)).toBeNull();
  });

  it("are recovered at startup in the zone their name records", async () => {
    const data = mkdtempSync(path.join(os.tmpdir(), "srvutil-seed-recover-"));
    dirs.push(data);
    const store = new SqliteStore(path.join(data, "srvutil.db"));
    await store.init();
    // The real clock, held still for the test; the fixture (February 2026, CET) moved forward by whole
    // 52-week years, which keep it in winter, so the ingest horizon lets it in.
    const now = Date.now();
    const weeks = weeksToRecent("2026-02-13", { multipleOf: 52, now });
    const ingest = new IngestService({
      store,
      dataDir: data,
      receivedMetricsDir: path.join(data, "received_metrics"),
      maxFutureSkewMs: 86_400_000,
      maxRows: 200_000,
      now: () => now,
      seedTimeZone: "UTC",
    });
    try {
      // Received 10 minutes ago, within the hour recovery looks at.
      const receivedAt = new Date(now - 600_000).toISOString();
      const id = `${receivedAt.replace(/[-:.]/g, "")}-0123456789ab`;
      const dir = path.join(data, "received_metrics", "DB-01", receivedAt.slice(0, 10));
      mkdirSync(dir, { recursive: true });
      const fixture = shiftDates(
        readFileSync(
          path.join(
            REPO_ROOT,
            "test/fixtures/seed/recieved_metrics/DB-01_2026-02-14_12-00-09_server_metrics.csv",
          ),
          "utf8",
        ),
        weeks,
      );
      writeFileSync(path.join(dir, rawFileName(id, "Europe/Berlin")), fixture);

      expect(await ingest.recoverRecent(3600_000)).toEqual({ recovered: 1, failed: [] });
      expect(await store.hasUploadId(id)).toBe(true);
      const times: string[] = [];
      for await (const r of store.samples({ from: 0, to: now }))
        times.push(new Date(r.timestamp).toISOString());
      // 23:50 and 00:10 Berlin time (CET), not UTC as the service's default would read them.
      expect(times).toEqual([
        shiftDates("2026-02-13T22:50:00.000Z", weeks),
        shiftDates("2026-02-13T23:10:00.000Z", weeks),
      ]);
    } finally {
      await ingest.close();
      await store.close();
    }
  });
});
