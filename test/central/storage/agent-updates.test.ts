import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { DEFAULT_RETENTION, runRetention } from "../../../src/central/retention.js";
import type { InputObservation } from "../../../src/central/storage/server-input-store.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";
import { row } from "../ingest/fixtures.js";

/**
 * store.agentUpdates (the auto-update policy) and the pruning of
 * store.serverInputs by the retention job, on SQLite and PostgreSQL: what one
 * instance stores another reads, a reset to the default is recorded with
 * who and when, and server_inputs rows go only for servers no longer known.
 */
const BACKENDS = await storeBackends();
const DAY = 86_400_000;

describe.each(BACKENDS)("auto-update policy and server_inputs pruning: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = async (ctx: { skip: (why: string) => void }) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make({ schemaPrefix: "srvutil_au" });
    return { a: t.store, b: await t.another() };
  };

  it("stores the fleet's and each group's setting; another instance reads them, fleet first", async (ctx) => {
    const { a, b } = await open(ctx);
    const now = Date.now();
    expect(await b.agentUpdates.list()).toEqual([]);
    await a.agentUpdates.set({ group: "web", enabled: true, changedBy: "alice", changedAt: now - 3000 });
    await a.agentUpdates.set({ group: "db", enabled: false, changedBy: "cli:root", changedAt: now - 2000 });
    await a.agentUpdates.set({ group: null, enabled: true, changedBy: "alice", changedAt: now - 1000 });
    expect(await b.agentUpdates.list()).toEqual([
      { group: null, enabled: true, changedBy: "alice", changedAt: now - 1000 },
      { group: "db", enabled: false, changedBy: "cli:root", changedAt: now - 2000 },
      { group: "web", enabled: true, changedBy: "alice", changedAt: now - 3000 },
    ]);
    // Back to the default: the row stays, with who did it and when.
    await b.agentUpdates.set({ group: null, enabled: null, changedBy: "bob", changedAt: now });
    await b.agentUpdates.set({ group: "web", enabled: false, changedBy: "bob", changedAt: now });
    const list = await a.agentUpdates.list();
    expect(list[0]).toEqual({ group: null, enabled: null, changedBy: "bob", changedAt: now });
    expect(list.find((s) => s.group === "web")).toEqual({
      group: "web",
      enabled: false,
      changedBy: "bob",
      changedAt: now,
    });
    expect(list).toHaveLength(3);
  });

  it("the retention job prunes server_inputs of servers no longer known, and only those", async (ctx) => {
    const { a, b } = await open(ctx);
    const now = Date.now();
    const stale = now - 40 * DAY; // before the 35-day horizon
    const obs = (
      server: string,
      at: number,
      input: InputObservation["input"] = "agent",
    ): InputObservation => ({
      server,
      input,
      at,
      agent: input === "agent" ? { version: "0.1.0", platform: "linux", arch: "x64", os: null } : null,
      outcome: null,
    });
    // Known by its samples (server_stats), though not seen lately.
    await a.ingest(
      {
        uploadId: "u-1",
        server: "with-samples",
        receivedAt: now,
        rawPath: "x/u-1",
        sha256: "u-1",
        bytes: 0,
      },
      [row("with-samples", new Date(now - 3_600_000).toISOString())],
    );
    await a.serverInputs.record(obs("with-samples", stale));
    // Known by an active agent token (every upload refused, say).
    await createAgentToken(a, "with-token");
    await a.serverInputs.record(obs("with-token", stale));
    // Unknown, but seen lately (a failing scrape target): kept while it keeps trying.
    await a.serverInputs.record(obs("scrape-recent", now - DAY, "scrape"));
    // Unknown and stale: a revoked token, and a scrape target taken out of the config.
    await createAgentToken(a, "revoked");
    await a.tokens.revokeAll("agent", "revoked", now - 39 * DAY);
    await a.serverInputs.record(obs("revoked", stale));
    await a.serverInputs.record(obs("gone-scrape", stale, "scrape"));

    const received = mkdtempSync(path.join(os.tmpdir(), "srvutil-au-rm-"));
    dirs.push(received);
    const run = await runRetention(b, DEFAULT_RETENTION, { now, receivedMetricsDir: received });
    expect(run.serverInputsRemoved).toBe(2);
    expect((await a.serverInputs.list()).map((i) => i.server)).toEqual([
      "scrape-recent",
      "with-samples",
      "with-token",
    ]);
    // Repeating changes nothing.
    expect(
      (await runRetention(a, DEFAULT_RETENTION, { now, receivedMetricsDir: received })).serverInputsRemoved,
    ).toBe(0);
    // Raw samples kept forever: the inputs are still forgotten after 35 days.
    await a.serverInputs.record(obs("gone-again", stale));
    const forever = { ...DEFAULT_RETENTION, rawDays: null };
    expect((await runRetention(a, forever, { now, receivedMetricsDir: received })).serverInputsRemoved).toBe(
      1,
    );
  });
});
