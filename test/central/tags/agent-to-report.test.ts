import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { weeklyReportComposer } from "../../../src/central/delivery/composer.js";
import { parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { isoWeekOf } from "../../../src/central/delivery/week.js";
import { AGENT_BUNDLE, agentBundle } from "../../helpers/agent-bundle.js";

/**
 * End to end: the single-file agent, its tags in SRVUTIL_TAGS, uploads to
 * `central serve` on loopback (SQLite file, real clock); the central stores
 * the tags, and this week's report of the group that selects them lists
 * the server, while a group of another team does not.
 */
beforeAll(() => {
  agentBundle();
});

describe("tags from an agent's config to a group's report", () => {
  let central: RunningCentral | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await central?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    central = undefined;
    dir = undefined;
  });

  it("stores what the agent declares and reports the server under the group its tags select", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "srvutil-tags-e2e-"));
    central = await startCentral(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: path.join(dir, "central"),
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
      }),
    );
    const token = await createAgentToken(central.store, "pay-01");
    const agent = path.join(dir, "srvutil-agent.mjs");
    copyFileSync(AGENT_BUNDLE, agent);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
      const child = spawn(process.execPath, [agent, "run", "--once"], {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? "",
          SRVUTIL_AGENT_DIR: path.join(dir!, "agent"),
          SRVUTIL_CENTRAL_URL: central!.url,
          SRVUTIL_AGENT_TOKEN: token,
          SRVUTIL_SERVER_NAME: "pay-01",
          SRVUTIL_AGENT_CPU_MEASURE_MS: "100",
          SRVUTIL_TAGS: "team=payments,env=prod",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("error", fail);
      child.on("close", (code) => done({ code, stdout, stderr }));
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/uploaded 1 file\(s\)/);
    const store = central.store;
    expect((await store.tags.current("pay-01")).map((t) => [t.source, t.key, t.value])).toEqual([
      ["agent", "env", "prod"],
      ["agent", "team", "payments"],
    ]);

    const groups = parseDeliveryGroups(
      {
        default: { enabled: false },
        groups: [
          { name: "payments", select: "team=payments,env=prod", to: ["p@example.com"] },
          { name: "search", select: "team=search", to: ["s@example.com"] },
        ],
      },
      [],
    );
    const now = Date.now();
    const week = isoWeekOf(now, "UTC");
    const compose = weeklyReportComposer(store);
    for (const group of groups) await compose({ week, group, timeZone: "UTC", now });
    expect((await store.reports.serverRows(week, "payments")).map((s) => s.server)).toEqual(["pay-01"]);
    expect(await store.reports.serverRows(week, "search")).toEqual([]);
  }, 60_000);
});
