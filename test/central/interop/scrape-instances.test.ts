/**
 * Two `central serve` instances on one PostgreSQL schema, both given the same
 * SRVUTIL_SCRAPE_CONFIG of eight targets on the real node_exporter: once
 * both see each other, every target is scraped by exactly one of them
 * (counted as raw CSV v1 files per server in each instance's own data
 * directory), both name the same instance for each target on GET
 * /api/v1/scrape/targets, and when one stops, the other takes over its
 * targets.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ownerOf } from "../../../src/central/scrape/ownership.js";
import { REPO_ROOT, runCli, srvutilCommand } from "../../helpers/cli.js";
import { freePort } from "../../helpers/net.js";
import { type RunningNodeExporter, startNodeExporter } from "../../helpers/node-exporter.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";

const PG = await findTestPostgres();
const INTERVAL_SECONDS = 2;
const SERVERS = Array.from({ length: 8 }, (_, i) => `node-${String(i + 1).padStart(2, "0")}`);

interface Instance {
  child: ChildProcess;
  url: string;
  dataDir: string;
  output: () => string;
}

interface TargetView {
  server: string;
  state: string;
  scraped_by: string | null;
}

async function waitFor<T>(what: string, check: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function rawFiles(dataDir: string, server: string): number {
  const dir = path.join(dataDir, "received_metrics", server);
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".csv")).length;
}

describe("scraping with two instances on one PostgreSQL schema", () => {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let exporter: RunningNodeExporter | undefined;

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await exporter?.stop();
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  });

  it("scrapes each target from exactly one instance, and the other takes over when one stops", async (ctx) => {
    const pgUrl = requirePostgres(ctx, PG);
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-scrape-multi-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const { schema, drop } = await createTestSchema(pgUrl, "srvutil_scrape");
    cleanups.push(drop);
    const dbUrl = `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    exporter = await startNodeExporter();
    const configFile = path.join(dir, "scrape.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        targets: SERVERS.map((server) => ({
          server,
          url: exporter?.url,
          interval_seconds: INTERVAL_SECONDS,
        })),
      }),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SRVUTIL_DB_URL: dbUrl,
      SRVUTIL_REPORT_TZ: "UTC",
      SRVUTIL_REPORT_CRON: "0 7 1 1 *",
      SRVUTIL_SCRAPE_CONFIG: configFile,
      // Raw files in each instance's own data directory: who stored what is then plain to count.
      SRVUTIL_RAW_STORE: "files",
    };
    const add = await runCli(["central", "token", "add", "--role", "viewer", "scrape-multi"], {
      ...env,
      SRVUTIL_DATA_DIR: path.join(dir, "cli"),
    });
    expect(add.code, add.stderr).toBe(0);
    const viewer = add.stdout.trim().split("\n").at(-1) ?? "";

    const start = async (name: string): Promise<Instance> => {
      const port = await freePort();
      const dataDir = path.join(dir, name);
      const [cmd, args] = srvutilCommand(["central", "serve"]);
      const child = spawn(cmd, args, {
        env: { ...env, SRVUTIL_DATA_DIR: dataDir, SRVUTIL_LISTEN: `127.0.0.1:${port}` },
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      let output = "";
      child.stdout?.on("data", (d) => {
        output += d;
      });
      child.stderr?.on("data", (d) => {
        output += d;
      });
      const url = `http://127.0.0.1:${port}`;
      await waitFor("ready", async () => ((await fetch(`${url}/readyz`)).ok ? true : null), 40_000).catch(
        (err: Error) => {
          throw new Error(`${name}: ${err.message}\n${output}`);
        },
      );
      return { child, url, dataDir, output: () => output };
    };
    const [a, b] = await Promise.all([start("a"), start("b")]);
    if (a === undefined || b === undefined) throw new Error("instances did not start");
    const view = async (i: Instance): Promise<{ instance: string; targets: TargetView[] }> => {
      const res = await fetch(`${i.url}/api/v1/scrape/targets`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { instance: string; targets: TargetView[] };
    };

    // Both answer from the stored states: every target up, scraped by its rendezvous owner over
    // the two instances, once the owner has scraped on a list with both.
    await waitFor(
      "both instances show every target up, scraped by its owner",
      async () => {
        const [va, vb] = await Promise.all([view(a), view(b)]);
        const agreed = SERVERS.every((s) => {
          const owner = ownerOf(`${s} ${exporter?.url}`, [va.instance, vb.instance]);
          const ta = va.targets.find((t) => t.server === s);
          const tb = vb.targets.find((t) => t.server === s);
          return (
            ta?.state === "up" && tb?.state === "up" && ta.scraped_by === owner && tb.scraped_by === owner
          );
        });
        return agreed ? true : null;
      },
      30_000,
    );
    // By then each instance has re-read the live list (cached 5 s): the other no longer scrapes.
    await new Promise((r) => setTimeout(r, (INTERVAL_SECONDS + 6) * 1000));
    const before = SERVERS.map((s) => [rawFiles(a.dataDir, s), rawFiles(b.dataDir, s)]);
    await new Promise((r) => setTimeout(r, 5 * INTERVAL_SECONDS * 1000));
    const after = SERVERS.map((s) => [rawFiles(a.dataDir, s), rawFiles(b.dataDir, s)]);
    const [va, vb] = await Promise.all([view(a), view(b)]);
    SERVERS.forEach((server, i) => {
      const da = (after[i]?.[0] ?? 0) - (before[i]?.[0] ?? 0);
      const db = (after[i]?.[1] ?? 0) - (before[i]?.[1] ?? 0);
      const owner = va.targets.find((t) => t.server === server)?.scraped_by;
      expect(owner).toBe(vb.targets.find((t) => t.server === server)?.scraped_by);
      // Exactly one instance stored this target's scrapes, about one per interval; the other none.
      const [mine, theirs] = owner === va.instance ? [da, db] : [db, da];
      expect({ server, mine: mine >= 3 && mine <= 7, theirs }).toEqual({ server, mine: true, theirs: 0 });
    });

    // A clean stop removes a's heartbeat: b scrapes every target from then on.
    const exited = new Promise((r) => a.child.once("exit", r));
    a.child.kill("SIGTERM");
    await exited;
    await waitFor(
      "b scrapes every target",
      async () => {
        const v = await view(b);
        return v.targets.every((t) => t.state === "up" && t.scraped_by === v.instance) ? true : null;
      },
      20_000,
    );
  }, 150_000);
});
