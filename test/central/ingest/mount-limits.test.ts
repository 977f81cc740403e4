/**
 * Distinct disk mounts per sample and per server and UTC week
 * (src/central/ingest/mount-limits.ts), through the real ingest path on
 * both backends, with samples timed by the real clock. 50,000 distinct
 * mounts for one server used to be accepted, making its dashboard page
 * 36 MB and the weekly report 206 MB.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { createIngestService } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import type { IngestService } from "../../../src/central/ingest/ingest-service.js";
import { utcWeekStart } from "../../../src/central/ingest/mount-limits.js";
import { AgentTokenRevokedError, type Storage } from "../../../src/central/storage/store.js";
import { InputError } from "../../../src/errors.js";
import { type MetricRow, serializeMetricsCsv } from "../../../src/protocol/index.js";
import { storeBackends, type TempStore } from "../../helpers/store-backends.js";
import { row } from "./fixtures.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** One sample of `server` at `ts` with these mounts. */
function sample(server: string, ts: number, mounts: readonly string[]): MetricRow[] {
  return mounts.map((m) => row(server, new Date(ts).toISOString(), m));
}
const file = (rows: readonly MetricRow[]) => Buffer.from(serializeMetricsCsv(rows));
const mounts = (prefix: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `/${prefix}/${from + i}`);

async function refusal(p: Promise<unknown>): Promise<InputError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

describe("utcWeekStart", () => {
  it("counts UTC ISO weeks from Monday 00:00 UTC", () => {
    const monday = Date.UTC(2026, 10, 23); // Monday 23 November 2026
    expect(new Date(monday).getUTCDay()).toBe(1);
    expect(utcWeekStart(monday)).toBe(monday);
    expect(utcWeekStart(monday + 7 * DAY - 1)).toBe(monday);
    expect(utcWeekStart(monday - 1)).toBe(monday - 7 * DAY);
    expect(utcWeekStart(Date.UTC(2000, 0, 1))).toBe(Date.UTC(1999, 11, 27));
  });
});

const backends = await storeBackends();

describe.each(backends)("mount limits on $name", { timeout: 120_000 }, ({ make, skipReason }) => {
  const stores: TempStore[] = [];
  const fresh = async () => {
    const t = await make();
    stores.push(t);
    return t;
  };
  const opened: IngestService[] = [];
  const service = (store: Storage, dir: string, env: Record<string, string> = {}) => {
    const config = loadCentralConfig({ SRVUTIL_DATA_DIR: dir, SRVUTIL_PARSE_WORKERS: "0", ...env });
    const s = createIngestService(config, store, null);
    opened.push(s);
    return s;
  };
  const uploads = async (t: TempStore) => (await t.store.listServers()).reduce((n, s) => n + s.rows, 0);
  const rawFiles = (t: TempStore) => {
    const root = path.join(t.dir, "received_metrics");
    return existsSync(root) ? readdirSync(root, { recursive: true }).length : 0;
  };
  // One UTC week, in the past: the week of 11 hours ago, whose first 600 minutes lie before now
  // even on a Monday morning; a minute per step.
  const anchor = utcWeekStart(Date.now() - 11 * HOUR);
  const thisWeek = (step: number) => anchor + step * 60_000;

  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    for (const s of stores.splice(0)) await s.cleanup();
  });

  it("refuses a sample with more distinct mounts than SRVUTIL_MAX_MOUNTS_PER_SAMPLE, storing nothing", async () => {
    const t = await fresh();
    const ingest = service(t.store, t.dir);
    const ts = Date.now() - HOUR;
    const err = await refusal(ingest.ingestFile(file(sample("web-01", ts, mounts("d", 0, 65)))));
    expect(err.status).toBe(400);
    expect(err.reason).toBe("too_many_mounts");
    expect(err.message).toContain("SRVUTIL_MAX_MOUNTS_PER_SAMPLE");
    expect(await uploads(t)).toBe(0);
    expect(rawFiles(t)).toBe(0);
    // 64 is fine, and a file repeating one row 65 times holds one mount, not 65.
    await ingest.ingestFile(file(sample("web-01", ts, mounts("d", 0, 64))));
    const repeated = Array.from({ length: 65 }, () =>
      row("web-01", new Date(ts + 60_000).toISOString(), "/"),
    );
    await ingest.ingestFile(file(repeated));
    // The setting moves the cap.
    const wide = service(t.store, t.dir, { SRVUTIL_MAX_MOUNTS_PER_SAMPLE: "100" });
    await wide.ingestFile(file(sample("web-02", ts, mounts("d", 0, 100))));
  });

  it("holds a server to 256 distinct mounts per UTC week, across uploads, restarts and concurrent files", async () => {
    const t = await fresh();
    const ingest = service(t.store, t.dir);
    const token = await createAgentToken(t.store, "web-01");
    const tokenId = token.split("_")[1]!;
    // 255 mounts in four files.
    for (let f = 0; f < 4; f++) {
      const count = f === 3 ? 63 : 64;
      await ingest.ingestFile(file(sample("web-01", thisWeek(f), mounts("m", f * 64, count))), {
        expectedServer: "web-01",
        agentTokenId: tokenId,
      });
    }
    const stored = await uploads(t);
    // A file whose write fails (its token was revoked) does not use up the quota.
    const revoked = await createAgentToken(t.store, "web-01");
    await t.store.tokens.revoke("agent", "web-01", revoked.split("_")[1]!, Date.now());
    await expect(
      ingest.ingestFile(file(sample("web-01", thisWeek(10), ["/failed"])), {
        expectedServer: "web-01",
        agentTokenId: revoked.split("_")[1]!,
      }),
    ).rejects.toBeInstanceOf(AgentTokenRevokedError);
    // Two files at once, each with one new mount, for the last free place: exactly one gets in.
    const race = await Promise.allSettled([
      ingest.ingestFile(file(sample("web-01", thisWeek(11), ["/new-a"])), { expectedServer: "web-01" }),
      ingest.ingestFile(file(sample("web-01", thisWeek(12), ["/new-b"])), { expectedServer: "web-01" }),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const lost = race.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(InputError);
    expect(lost.reason).toMatchObject({ status: 400, reason: "too_many_server_mounts" });
    expect((lost.reason as Error).message).toContain("SRVUTIL_MAX_MOUNTS_PER_SERVER");
    expect(await uploads(t)).toBe(stored + 1);

    // Known mounts still come in; a 257th does not, and nothing of it is stored.
    await ingest.ingestFile(file(sample("web-01", thisWeek(20), mounts("m", 0, 64))));
    const before = { rows: await uploads(t), raw: rawFiles(t) };
    const err = await refusal(ingest.ingestFile(file(sample("web-01", thisWeek(21), ["/m/0", "/257th"]))));
    expect(err.reason).toBe("too_many_server_mounts");
    expect(err.message).toContain("'/257th'");
    expect({ rows: await uploads(t), raw: rawFiles(t) }).toEqual(before);

    // Another server has its own count.
    await ingest.ingestFile(file(sample("web-02", thisWeek(21), ["/257th"])));

    // A restart (a new ingest service on the same database) reads the week back from the rollups.
    await t.store.rollups.refresh();
    const restarted = service(t.store, t.dir);
    expect(
      (await refusal(restarted.ingestFile(file(sample("web-01", thisWeek(22), ["/258th"]))))).reason,
    ).toBe("too_many_server_mounts");
    await restarted.ingestFile(file(sample("web-01", thisWeek(22), ["/m/5"])));

    // Last week is another week: a server whose mounts changed is not held to this week's.
    const lastWeek = anchor - 7 * DAY + HOUR;
    await restarted.ingestFile(file(sample("web-01", lastWeek, mounts("old", 0, 64))));
  });

  it("keeps a server flooding new mounts to the cap: 50,000 tried, 256 stored", async () => {
    const t = await fresh();
    const ingest = service(t.store, t.dir);
    let accepted = 0;
    let refused = 0;
    // 782 files of 64 new mounts each, as the attack sent them (each within this week).
    for (let f = 0; f * 64 < 50_000; f++) {
      const names = mounts("flood", f * 64, Math.min(64, 50_000 - f * 64));
      try {
        await ingest.ingestFile(file(sample("web-01", thisWeek(f % 600), names)));
        accepted++;
      } catch (err) {
        expect(err).toMatchObject({ reason: "too_many_server_mounts" });
        refused++;
      }
    }
    expect(accepted).toBe(4);
    expect(refused).toBe(778);
    const distinct = new Set<string>();
    for await (const r of t.store.samples({ from: 0, to: Date.now() + DAY, servers: ["web-01"] })) {
      distinct.add(r.diskMount);
    }
    expect(distinct.size).toBe(256);
  });
});
