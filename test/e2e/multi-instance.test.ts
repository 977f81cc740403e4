/**
 * Several central instances with real parts: two `central serve` processes
 * on one PostgreSQL schema behind a real haproxy (started here with the
 * config docs/scaling.md shows), 16 agents uploading through it with the
 * agent's own upload code and per-agent tokens, `kill -9` of one instance
 * mid-load and a replacement started on an empty data directory. Then:
 * every row that got a 2xx is stored exactly once, the report equals the one
 * SQLite builds from the same files, and the week's email, scheduled by both
 * instances' schedulers, arrived exactly once.
 *
 * The instance killed is the one sending the week's email: the SMTP server
 * holds its first message unanswered until then, so every run covers the
 * takeover of a dead holder's lease (SRVUTIL_DELIVERY_LEASE_SECONDS, short
 * here). With the default five-minute lease and a random victim, a run that
 * happened to kill the sender waited five minutes for the email (CI, once).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { DateTime } from "luxon";
import { type ParsedMail, simpleParser } from "mailparser";
import pg from "pg";
import { SMTPServer } from "smtp-server";
import { afterAll, describe, expect, it } from "vitest";
import { type PostOutcome, postMetrics } from "../../src/agent/uploader.js";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { isoWeekBefore } from "../../src/central/delivery/week.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { REPO_ROOT, runCli, srvutilCommand } from "../helpers/cli.js";
import { freePort } from "../helpers/net.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../helpers/postgres.js";
import { requireProgram } from "../helpers/programs.js";

const PG = await findTestPostgres();

const AGENTS = 16;
const HEADER =
  "timestamp,server,cpu_percent,cpu_peak_percent,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes";
/** One sample every 10 minutes for the 7 days of the week, 24 samples (four hours) per file. */
const STEP_MS = 10 * 60_000;
const SAMPLES_PER_FILE = 24;
const FILES_PER_AGENT = (7 * 24 * 60 * 60_000) / STEP_MS / SAMPLES_PER_FILE; // 42
/** Each agent holds back its last files until the replacement instance is in the pool. */
const FILES_AFTER_RESTART = 5;

interface AgentFile {
  server: string;
  csv: Buffer;
  sha256: string;
  keys: string[];
}

function weekFiles(server: string, agentIndex: number, weekStart: number): AgentFile[] {
  const files: AgentFile[] = [];
  for (let f = 0; f < FILES_PER_AGENT; f++) {
    const lines = [HEADER];
    const keys: string[] = [];
    for (let i = 0; i < SAMPLES_PER_FILE; i++) {
      const n = f * SAMPLES_PER_FILE + i;
      const ts = weekStart + n * STEP_MS + STEP_MS; // ends on the week's last instant
      const t = Math.min(ts, weekStart + 7 * 86_400_000 - 1);
      const cpu = (agentIndex * 7 + n * 13) % 100;
      const used = 2_000_000 + ((n * 7919) % 1_000_000);
      lines.push(
        `${new Date(t).toISOString()},${server},${cpu},${Math.min(100, cpu + 5)},8000000,${used},${8_000_000 - used},/,100000000,${40_000_000 + n * 1000},${60_000_000 - n * 1000}`,
      );
      keys.push(`${server}|${t}|/`);
    }
    const csv = Buffer.from(`${lines.join("\n")}\n`);
    files.push({ server, csv, sha256: createHash("sha256").update(csv).digest("hex"), keys });
  }
  return files;
}

function oneRowFile(server: string, ts: number): AgentFile {
  const csv = Buffer.from(
    `${HEADER}\n${new Date(ts).toISOString()},${server},50,60,8000000,4000000,4000000,/,100000000,50000000,50000000\n`,
  );
  return { server, csv, sha256: createHash("sha256").update(csv).digest("hex"), keys: [`${server}|${ts}|/`] };
}

/** The haproxy configuration of docs/scaling.md with this test's ports. */
function haproxyConfig(lbPort: number, portA: number, portB: number): string {
  const doc = readFileSync(path.join(REPO_ROOT, "docs/scaling.md"), "utf8");
  const block = /```haproxy\n([\s\S]*?)```/.exec(doc)?.[1];
  if (block === undefined) throw new Error("docs/scaling.md has no ```haproxy block");
  const out = block
    .replace("bind 127.0.0.1:8080", `bind 127.0.0.1:${lbPort}`)
    .replace("server central-a 127.0.0.1:8081", `server central-a 127.0.0.1:${portA}`)
    .replace("server central-b 127.0.0.1:8082", `server central-b 127.0.0.1:${portB}`);
  for (const p of [lbPort, portA, portB]) {
    if (!out.includes(`127.0.0.1:${p}`)) throw new Error(`the documented config lost port ${p}`);
  }
  return out;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ready = (url: string) => async () => (await fetch(`${url}/readyz`)).status === 200;

interface Instance {
  child: ChildProcess;
  output: () => string;
  dataDir: string;
}

function startInstance(env: NodeJS.ProcessEnv, dataDir: string, port: number): Instance {
  const [cmd, args] = srvutilCommand(["central", "serve"]);
  const child = spawn(cmd, args, {
    env: { ...env, SRVUTIL_DATA_DIR: dataDir, SRVUTIL_LISTEN: `127.0.0.1:${port}` },
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  return { child, output: () => output, dataDir };
}

function logEvents(dataDir: string, event: string): number {
  let text = "";
  try {
    text = readFileSync(path.join(dataDir, "Logs", "automation.log"), "utf8");
  } catch {
    return 0;
  }
  return text.split("\n").filter((l) => l.includes(`"event":"${event}"`)).length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("two central serve instances on one PostgreSQL schema behind haproxy", () => {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  });

  it("keeps every acknowledged row through kill -9, reports as SQLite does, and mails the week once", async (ctx) => {
    const pgUrl = requirePostgres(ctx, PG);
    const t0 = Date.now();
    const mark = (what: string) => {
      if (process.env.MULTI_DEBUG) console.log(what, Date.now() - t0);
    };
    const haproxy = requireProgram("haproxy", "haproxy");
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-multi-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const { schema, drop } = await createTestSchema(pgUrl, "srvutil_multi");
    cleanups.push(drop);
    const dbUrl = `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

    // A real SMTP server in this process. The first message is read and never
    // answered: its sender holds the delivery's lease until it is killed.
    const mails: ParsedMail[] = [];
    let firstMessageHeld: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      firstMessageHeld = resolve;
    });
    let holding = false;
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, _session, callback) {
        if (!holding) {
          holding = true;
          stream.resume(); // read it all; the 250 never comes
          stream.on("end", firstMessageHeld);
          return;
        }
        simpleParser(stream)
          .then((mail) => {
            mails.push(mail);
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
    const smtpPort = (smtp.server.address() as net.AddressInfo).port;

    // The week the scheduler mails: the one before the current week.
    const week = isoWeekBefore(Date.now(), "UTC");
    const monday = DateTime.fromISO(`${week}-1`, { zone: "UTC" }).toMillis();

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SRVUTIL_DB_URL: dbUrl,
      SRVUTIL_REPORT_TZ: "UTC",
      SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      SRVUTIL_MAIL_FROM: "srvutil@example.test",
      SRVUTIL_REPORT_TO: "ops@example.test",
      // Every 3 seconds: both schedulers tick many times during the test, and
      // the week before each tick is the week the agents upload.
      SRVUTIL_REPORT_CRON: "*/3 * * * * *",
      // A dead sender's lease runs out in 10 s (renewed every third of it while alive).
      SRVUTIL_DELIVERY_LEASE_SECONDS: "10",
      SRVUTIL_RATE_LIMIT_PER_SECOND: "20",
      SRVUTIL_RATE_LIMIT_BURST: "40",
      SRVUTIL_LOG_LEVEL: "error",
      // haproxy (docs/scaling.md) sends X-Forwarded-For from loopback.
      SRVUTIL_TRUSTED_PROXIES: "127.0.0.1",
    };

    // Both instances start at once on the empty schema: they migrate it together.
    const [portA, portB, lbPort] = [await freePort(), await freePort(), await freePort()];
    const a = startInstance(env, path.join(dir, "a"), portA);
    const b = startInstance(env, path.join(dir, "b"), portB);
    children.push(a.child, b.child);
    const urlA = `http://127.0.0.1:${portA}`;
    const urlB = `http://127.0.0.1:${portB}`;
    try {
      await waitFor("instance a ready", ready(urlA), 30_000);
      await waitFor("instance b ready", ready(urlB), 30_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- a:\n${a.output()}\n--- b:\n${b.output()}`);
    }

    mark("instances ready");
    const cfg = path.join(dir, "haproxy.cfg");
    writeFileSync(cfg, haproxyConfig(lbPort, portA, portB));
    const lb = spawn(haproxy, ["-db", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(lb);
    let lbOutput = "";
    lb.stderr?.on("data", (d) => {
      lbOutput += d;
    });
    const lbUrl = `http://127.0.0.1:${lbPort}`;
    await waitFor(`haproxy up (${lbOutput})`, ready(lbUrl), 15_000);

    // Per-agent tokens, made the way `central token add` makes them.
    const admin = new PgStore(pgUrl, { schema, max: 2 });
    cleanups.push(() => admin.close());
    const servers = Array.from({ length: AGENTS }, (_, i) => `multi-agent-${String(i + 1).padStart(2, "0")}`);
    const tokens = new Map<string, string>();
    for (const s of [...servers, "burst-01"]) tokens.set(s, await createAgentToken(admin, s));

    // The per-token rate limit holds through the load balancer: hashing on the
    // token sends one token's burst to one instance (round robin would give
    // each instance half of it, under its burst of 40, and refuse nothing).
    const burstFiles = Array.from({ length: 80 }, (_, i) =>
      oneRowFile("burst-01", monday + i * 60_000 + 30_000),
    );
    const burstTarget = {
      endpoint: new URL(`${lbUrl}/api/v1/metrics`),
      token: tokens.get("burst-01")!,
      ca: null,
    };
    const burst = await Promise.all(burstFiles.map((f) => postMetrics(burstTarget, f.csv, 20_000)));
    const limited = burst.filter((o) => o.kind === "retry" && o.status === 429).length;
    const burstAcked = burstFiles.filter((_, i) => burst[i]!.kind === "accepted");
    expect(burstAcked.length + limited).toBe(80);
    expect(limited).toBeGreaterThan(0);

    mark("burst done");
    // One instance is sending the week's email (the SMTP server holds it): that one will die.
    await held;
    const sending = (i: Instance) => logEvents(i.dataDir, "delivery.sending") > 0;
    await waitFor("one instance logged delivery.sending", async () => sending(a) !== sending(b), 10_000);
    const [victim, survivor, victimPort] = sending(a) ? [a, b, portA] : [b, a, portB];
    mark("email held");
    // 16 agents, each a week of files, through haproxy.
    const files = new Map(servers.map((s, i) => [s, weekFiles(s, i, monday)]));
    const acked = new Set<string>();
    const ackedFiles: AgentFile[] = [...burstAcked];
    let ackCount = 0;
    let openGate: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let killAt: () => void = () => {};
    const killPoint = new Promise<void>((resolve) => {
      killAt = resolve;
    });
    const killAfter = Math.floor((AGENTS * FILES_PER_AGENT) / 4);

    const agent = async (server: string) => {
      const target = { endpoint: new URL(`${lbUrl}/api/v1/metrics`), token: tokens.get(server)!, ca: null };
      const list = files.get(server)!;
      for (const [i, file] of list.entries()) {
        if (i === list.length - FILES_AFTER_RESTART) await gate;
        for (let attempt = 0; ; attempt++) {
          const out: PostOutcome = await postMetrics(target, file.csv, 15_000);
          if (out.kind === "accepted") break;
          if (out.kind !== "retry")
            throw new Error(`${server} file ${i}: ${out.kind} ${out.status} ${out.error}`);
          if (attempt > 200) throw new Error(`${server} file ${i}: still failing: ${out.error}`);
          await sleep(out.retryAfterMs ?? 100);
        }
        for (const k of file.keys) acked.add(k);
        ackedFiles.push(file);
        if (++ackCount === killAfter) killAt();
        await sleep(60);
      }
    };
    const load = Promise.all(servers.map(agent));

    // Both instances took uploads before the one sending the email dies.
    await killPoint;
    expect(logEvents(a.dataDir, "upload")).toBeGreaterThan(0);
    expect(logEvents(b.dataDir, "upload")).toBeGreaterThan(0);
    mark("kill");
    victim.child.kill("SIGKILL");
    await new Promise((r) => victim.child.once("exit", r));
    const killedAt = ackCount;

    // Its replacement starts on an empty data directory: nothing of value was on the lost one's disk.
    const replacement = startInstance(env, path.join(dir, "replacement"), victimPort);
    children.push(replacement.child);
    await waitFor(
      `replacement ready\n${replacement.output()}`,
      ready(`http://127.0.0.1:${victimPort}`),
      30_000,
    );
    await sleep(2_500); // haproxy's `rise 2` at `inter 1s`: back in the pool
    mark("gate");
    openGate();
    await load;
    expect(killedAt).toBeLessThan(AGENTS * FILES_PER_AGENT - AGENTS * FILES_AFTER_RESTART);
    expect(logEvents(replacement.dataDir, "upload")).toBeGreaterThan(0); // it took some of the rest

    mark("load done");
    // Every acknowledged row is stored, exactly once; every file once, with its raw copy.
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    cleanups.push(() => db.end());
    const rows = await db.query<{ server: string; ts: string; mount: string }>(
      "SELECT server, ts::text AS ts, mount FROM samples",
    );
    const stored = rows.rows.map((r) => `${r.server}|${r.ts}|${r.mount}`);
    expect(new Set(stored).size).toBe(stored.length);
    const expected = new Set([...acked, ...burstAcked.flatMap((f) => f.keys)]);
    expect(new Set(stored)).toEqual(expected);
    expect(stored.length).toBe(AGENTS * FILES_PER_AGENT * SAMPLES_PER_FILE + burstAcked.length);
    const uploads = await db.query<{ server: string; sha256: string; n: number }>(
      "SELECT server, sha256, COUNT(*)::int AS n FROM uploads GROUP BY server, sha256",
    );
    expect(uploads.rows.filter((u) => u.n !== 1)).toEqual([]);
    const storedFiles = new Set(uploads.rows.map((u) => `${u.server}|${u.sha256}`));
    for (const f of ackedFiles) expect(storedFiles.has(`${f.server}|${f.sha256}`)).toBe(true);
    expect(storedFiles.size).toBe(AGENTS * FILES_PER_AGENT + burstAcked.length);
    const raw = await db.query<{ n: number }>(
      "SELECT COUNT(*)::int AS n FROM uploads u JOIN raw_uploads r ON r.upload_id = u.upload_id",
    );
    expect(raw.rows[0]!.n).toBe(storedFiles.size);

    // The report from PostgreSQL equals the one SQLite builds from the same files.
    const filesDir = path.join(dir, "files");
    ackedFiles.forEach((f, i) => {
      mkdirSync(path.join(filesDir, f.server), { recursive: true });
      writeFileSync(path.join(filesDir, f.server, `${String(i).padStart(5, "0")}.csv`), f.csv);
    });
    const sqliteEnv = {
      ...process.env,
      SRVUTIL_DATA_DIR: path.join(dir, "sqlite"),
      SRVUTIL_REPORT_TZ: "UTC",
    };
    mark("checks done");
    const reportArgs = ["report", "build", "--week", week, "--format", "json", "--out", "-"];
    const [fromPg, fromSqlite] = await Promise.all([
      runCli(reportArgs, { ...env, SRVUTIL_DATA_DIR: path.join(dir, "report-pg") }),
      (async () => {
        const imported = await runCli(["central", "import", filesDir], sqliteEnv);
        expect(imported.code, imported.stderr).toBe(0);
        mark("import done");
        return runCli(reportArgs, sqliteEnv);
      })(),
    ]);
    expect(fromPg.code, fromPg.stderr).toBe(0);
    expect(fromSqlite.code, fromSqlite.stderr).toBe(0);
    mark("reports done");
    const strip = (json: string) => {
      const r = JSON.parse(json) as { generated_at?: string; servers: unknown[] };
      delete r.generated_at;
      return r;
    };
    const pgReport = strip(fromPg.stdout);
    expect(pgReport.servers).toHaveLength(AGENTS + 1);
    expect(pgReport).toEqual(strip(fromSqlite.stdout));

    // Both schedulers (and the replacement's) ticked every 3 s all along; the week went out once.
    mark("mail wait");
    await waitFor("the weekly email", async () => mails.length > 0, 60_000);
    await sleep(3_500); // at least one more tick on every instance
    const weekly = mails.filter((m) => (m.subject ?? "").includes(week));
    expect(weekly).toHaveLength(1);
    expect(mails).toHaveLength(1);
    // A live instance took the dead one's delivery over once its lease ran out.
    const resumed = [survivor, replacement].map((i) => logEvents(i.dataDir, "delivery.resumed_after_crash"));
    expect(resumed.reduce((x, y) => x + y)).toBe(1);
  }, 180_000);
});
