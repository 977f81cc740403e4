import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { openStorage } from "../../../src/central/storage/open.js";
import { srvutilCommand } from "../../helpers/cli.js";
import { utcMidnightDaysAgo } from "../../helpers/clock.js";
import { freePort } from "../../helpers/net.js";
import { csvFor } from "./fixtures.js";

/**
 * The real central process under concurrent uploads, killed with SIGKILL at
 * random moments and restarted. Afterwards every upload that got a 2xx must
 * be in the database and in received_metrics/, the database must pass
 * integrity_check, and the agents' retries must have stored every row
 * exactly once.
 */

const AGENTS = 16;
const FILES_PER_AGENT = 40;
const SAMPLES_PER_FILE = 100; // × 2 mounts = 200 rows per file
const KILLS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("crash safety", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-crash-"));
  let child: ChildProcess | null = null;
  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every acknowledged upload across kill -9 and fills the rest exactly once on retry", async () => {
    const port = await freePort();
    const env = {
      ...process.env,
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0",
      SRVUTIL_LOG_LEVEL: "error",
    };
    const base = `http://127.0.0.1:${port}`;

    const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
    const agents: { server: string; token: string; files: string[] }[] = [];
    for (let a = 0; a < AGENTS; a++) {
      const server = `crash-${String(a).padStart(2, "0")}`;
      const files: string[] = [];
      for (let f = 0; f < FILES_PER_AGENT; f++) {
        // csvFor spaces samples 5 minutes apart: consecutive files do not overlap. The 40 files
        // span 14 days, from 21 days back (real clock): inside the ingest horizon, none in the future.
        const start = new Date(utcMidnightDaysAgo(21) + f * SAMPLES_PER_FILE * 300_000).toISOString();
        files.push(csvFor(server, start, SAMPLES_PER_FILE));
      }
      agents.push({ server, token: await createAgentToken(store, server), files });
    }
    await store.close();

    const start = () => {
      const [cmd, argv] = srvutilCommand(["central", "serve"]);
      child = spawn(cmd, [...argv], { env, stdio: ["ignore", "ignore", "pipe"] });
      child.stderr?.on("data", () => {});
    };
    const waitReady = async () => {
      for (let i = 0; i < 200; i++) {
        try {
          if ((await fetch(`${base}/readyz`)).ok) return;
        } catch {
          /* not up yet */
        }
        await sleep(50);
      }
      throw new Error("central did not become ready");
    };

    const acked: { server: string; uploadId: string; file: string }[] = [];
    let done = false;
    // Generous: each restart is a Node start-up, which a loaded CI machine can stretch to seconds.
    const deadline = Date.now() + 90_000;
    const runAgent = async (agent: (typeof agents)[number]) => {
      for (const file of agent.files) {
        for (;;) {
          if (Date.now() > deadline) throw new Error("agent gave up: central never took the file");
          try {
            const res = await fetch(`${base}/api/v1/metrics`, {
              method: "POST",
              headers: { authorization: `Bearer ${agent.token}`, "content-type": "text/csv" },
              body: file,
            });
            const body = (await res.json()) as { upload_id: string };
            if (res.status === 200 || res.status === 201) {
              acked.push({ server: agent.server, uploadId: body.upload_id, file });
              break;
            }
            throw new Error(`unexpected ${res.status}: ${JSON.stringify(body)}`);
          } catch (err) {
            if (err instanceof Error && err.message.startsWith("unexpected")) throw err;
            await sleep(30 + Math.random() * 70); // connection refused/reset: the central is down
          }
        }
      }
    };

    start();
    await waitReady();
    const uploading = Promise.all(agents.map(runAgent)).finally(() => {
      done = true;
    });
    let kills = 0;
    for (let k = 0; k < KILLS && !done; k++) {
      await sleep(100 + Math.random() * 300);
      if (done) break;
      child!.kill("SIGKILL");
      kills++;
      await new Promise((r) => child!.once("exit", r));
      start();
      await waitReady();
    }
    await uploading;
    child!.kill("SIGTERM");
    await new Promise((r) => child!.once("exit", r));
    child = null;
    expect(kills).toBeGreaterThanOrEqual(1);
    console.log(`crash test: ${kills} kills, ${acked.length} acknowledged uploads`);

    const db = new Database(path.join(dir, "srvutil.db"), { readonly: true });
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const totalRows = AGENTS * FILES_PER_AGENT * SAMPLES_PER_FILE * 2;
      expect(db.prepare("SELECT COUNT(*) FROM samples").pluck().get()).toBe(totalRows);
      expect(db.prepare("SELECT SUM(inserted) FROM uploads").pluck().get()).toBe(totalRows);
      const findUpload = db.prepare("SELECT raw_path, server FROM uploads WHERE upload_id = ?");
      expect(acked).toHaveLength(AGENTS * FILES_PER_AGENT);
      for (const a of acked) {
        const u = findUpload.get(a.uploadId) as { raw_path: string; server: string } | undefined;
        expect(u, a.uploadId).toBeDefined();
        expect(u!.server).toBe(a.server);
        const raw = path.join(dir, u!.raw_path);
        expect(existsSync(raw)).toBe(true);
        expect(readFileSync(raw, "utf8")).toBe(a.file);
      }
    } finally {
      db.close();
    }
  }, 120_000);
});
