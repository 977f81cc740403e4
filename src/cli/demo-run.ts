import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadAgentConfig, runAgentOnce } from "../agent/index.js";
import { resolveReportWeek } from "../central/aggregate/week.js";
import { createAgentToken } from "../central/auth/tokens.js";
import { AutomationLog } from "../central/automation-log.js";
import { type RunningCentral, startCentral } from "../central/central-process.js";
import { type CentralConfig, loadCentralConfig } from "../central/config.js";
import { hashPassword } from "../central/dashboard/password.js";
import { sendWeeklyReport } from "../central/delivery/send.js";
import { buildWeeklyReport, renderReport } from "../central/report/index.js";
import { DEMO_FLEET, demoSender, simulateServer } from "../demo/fleet.js";
import { LIVE_UPLOAD_EVERY_MS, startLiveFleet } from "../demo/live.js";
import { postMetrics } from "../demo/upload.js";
import { usageError } from "../errors.js";

// What `srvutil demo` runs (wired in ./demo.ts, which loads this module only when it runs).

export interface DemoOptions {
  serve: boolean;
  weeks: string;
}

async function startCentralOnAnyPort(config: CentralConfig): Promise<RunningCentral> {
  try {
    return await startCentral(config);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    console.log(`  ${config.listen.host}:${config.listen.port} is taken; using a free port instead`);
    return startCentral({ ...config, listen: { ...config.listen, port: 0 } });
  }
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const weeks = Number(opts.weeks);
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 52) {
    throw usageError("--weeks must be a whole number from 1 to 52");
  }
  // The demo's email goes to the outbox with a To: line, as a real one would
  // (example.com is reserved: nothing is ever delivered there).
  const config = loadCentralConfig({
    ...process.env,
    SRVUTIL_REPORT_TO: process.env.SRVUTIL_REPORT_TO || "ops@example.com",
  });
  const started = Date.now();
  console.log("srvutil demo — a simulated fleet (servers named demo-*) plus this machine's real agent\n");
  console.log(`  data directory   ${config.dataDir}`);
  const central = await startCentralOnAnyPort(config);
  const { store } = central;
  const log = new AutomationLog(config.paths.automationLog, config.logRotation);
  log.info("demo.started", { url: central.url });
  console.log(`  central API      ${central.url}  (SQLite: ${config.dbUrl.replace(/^sqlite:/, "")})`);

  try {
    // History up to now: last week's report is complete, and the live status,
    // the sparklines and this week's charts have data. Gaps and the silent
    // server are placed relative to the end of last week (the anchor).
    const lastWeek = resolveReportWeek("last", config.reportTimeZone);
    const historyTo = Date.now();
    const range = {
      from: lastWeek.to - weeks * 7 * 86400_000,
      to: historyTo,
      intervalSeconds: 300,
      anchor: lastWeek.to,
    };
    let rows = 0;
    let duplicates = 0;
    let uploads = 0;
    const tokens: { profile: (typeof DEMO_FLEET)[number]; token: string }[] = [];
    await Promise.all(
      DEMO_FLEET.map(async (profile) => {
        await store.tokens.revokeAll("agent", profile.name, Date.now());
        const token = await createAgentToken(store, profile.name);
        tokens.push({ profile, token });
        for (const file of simulateServer(profile, range)) {
          const res = await postMetrics(central.url, token, file, demoSender(profile));
          if (res.status !== 201) {
            throw new Error(
              `demo upload for ${profile.name} failed: ${res.status} ${JSON.stringify(res.body)}`,
            );
          }
          const body = res.body as { rows: number; duplicates: number };
          rows += body.rows;
          duplicates += body.duplicates;
          uploads++;
        }
      }),
    );
    console.log(
      `  demo fleet       ${DEMO_FLEET.length} servers, ${uploads} uploads, ${rows} rows` +
        (duplicates > 0 ? ` (${duplicates} already stored from an earlier run)` : ""),
    );

    // This machine, measured for real by the agent, through the same API.
    const agentDir = path.join(config.dataDir, "agent");
    // The token is bound to the server name the agent resolves (hostname by
    // default), so resolve the config first, then give it the token.
    const resolved = loadAgentConfig({
      ...process.env,
      SRVUTIL_CENTRAL_URL: central.url,
      SRVUTIL_AGENT_TOKEN: "pending",
      SRVUTIL_AGENT_DIR: agentDir,
    });
    await store.tokens.revokeAll("agent", resolved.serverName, Date.now());
    const agentConfig = { ...resolved, token: await createAgentToken(store, resolved.serverName) };
    const agentRun = await runAgentOnce(agentConfig);
    const s = agentRun.sample;
    console.log(
      `  real agent       ${agentConfig.serverName}: CPU ${s.cpuPercent.toFixed(1)} %, ` +
        `memory ${((s.memory.usedBytes / s.memory.totalBytes) * 100).toFixed(1)} %, ` +
        `${s.disks.length} disk(s); uploaded ${agentRun.upload?.uploadedFiles ?? 0} file(s) — spool in ${agentDir}`,
    );

    // Last week's report, as the Monday job builds it.
    const report = await buildWeeklyReport(store, { week: "last", timeZone: config.reportTimeZone });
    const rendered = await renderReport(report, "standalone");
    await mkdir(config.paths.reports, { recursive: true });
    const htmlFile = path.join(config.paths.reports, `${report.week}.html`);
    const jsonFile = path.join(config.paths.reports, `${report.week}.json`);
    await writeFile(htmlFile, rendered.html);
    await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    const needAction = report.servers.filter((x) => x.status !== "ok").length;
    console.log(
      `  report           ${report.week} (${config.reportTimeZone}): ${needAction} server(s) need action`,
    );
    console.log(`                   ${htmlFile}`);
    console.log(`                   ${jsonFile}`);

    // The email, recorded as a delivery like the Monday schedule's; re-running
    // the demo resends it (same Message-ID).
    const sent = await sendWeeklyReport({ config, store, log, week: report.week, resend: true });
    for (const o of sent) {
      const where = o.file ?? o.transport;
      console.log(
        `  email            group ${o.group}: ${o.status}${o.error ? ` (${o.error})` : ""} → ${where}`,
      );
    }
    // A demo admin for the dashboard, with a fresh password each run (older demo sessions end).
    const password = randomBytes(9).toString("base64url");
    await store.users.putUser({
      name: "demo",
      role: "admin",
      groups: null,
      passwordHash: await hashPassword(password),
      createdAt: Date.now(),
    });
    console.log(`  dashboard        ${central.url}/  sign in as demo / ${password}`);
    console.log(`  automation log   ${config.paths.automationLog}`);
    console.log(`\n  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    if (opts.serve) {
      // The fleet stays alive: each simulated server (but the silent one)
      // uploads its new samples every minute, and this machine's agent runs
      // again, both through the real API.
      const live = startLiveFleet({
        centralUrl: central.url,
        servers: tokens,
        origin: range.from,
        anchor: range.anchor,
        since: historyTo,
        onError: (server, message) => console.error(`  demo upload for ${server} failed: ${message}`),
      });
      const agentTimer = setInterval(() => {
        runAgentOnce(agentConfig).catch((err: Error) =>
          console.error(`  real agent run failed: ${err.message}`),
        );
      }, LIVE_UPLOAD_EVERY_MS);
      agentTimer.unref();
      console.log(
        `\n  serving ${central.url} — the demo fleet and this machine upload every ${LIVE_UPLOAD_EVERY_MS / 1000} s; ` +
          "demo-ci-silent stays silent on purpose; Ctrl-C to stop",
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      live.stop();
      clearInterval(agentTimer);
    }
  } finally {
    await central.close();
  }
}
