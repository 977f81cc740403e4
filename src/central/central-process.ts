import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { AGENT_VERSION } from "../agent/version.js";
import { AgentCatalog, BUILD_COMMAND, defaultAgentDistDirs } from "./agent-dist/catalog.js";
import { ReleaseRecord } from "./agent-dist/release.js";
import { ManifestSigner } from "./agent-dist/signing.js";
import { policyReader } from "./agent-update-policy.js";
import { RollupMaintainer } from "./aggregate/rollup-maintainer.js";
import { AlertService, type AlertServiceOptions } from "./alerts/service.js";
import { type Alerting, loadAlerting } from "./alerts/setup.js";
import { AgentTokenCache } from "./auth/token-cache.js";
import { AutomationLog } from "./automation-log.js";
import type { CentralConfig } from "./config.js";
import { dashboardOptions } from "./dashboard/index.js";
import { CURRENT_TAGS_REFRESH_MS } from "./delivery/current-tags.js";
import { mailDestination } from "./delivery/mail-destination.js";
import { registerDeliveryMetrics } from "./delivery/prometheus.js";
import { startDeliveryScheduler } from "./delivery/scheduler.js";
import { createApiApp } from "./http/app.js";
import { IngestMetrics } from "./http/ingest-metrics.js";
import { SEED_BRIDGE_PATH } from "./http/routes/seed-bridge.js";
import { IngestService } from "./ingest/ingest-service.js";
import { InteropSink } from "./ingest/interop/sink.js";
import { ServerInputRecorder } from "./ingest/server-inputs.js";
import { InstancePresence } from "./jobs/instance-presence.js";
import { instanceId, JobRunner, type ScheduledJob } from "./jobs/scheduled-jobs.js";
import { serveJobs } from "./jobs/serve-jobs.js";
import { resolveThresholds } from "./report/thresholds.js";
import { loadScrapeTargets } from "./scrape/config.js";
import { Scraper } from "./scrape/scraper.js";
import { openStorage } from "./storage/open.js";
import { rawStoreMode, rawStoreWarning } from "./storage/raw-upload-store.js";
import type { Storage } from "./storage/store.js";

/*
 * `central serve` as one process: the store, the ingest service, the HTTP
 * app of ./http/app.ts, and what runs beside it (delivery scheduler, rollup
 * maintainer, instance presence, the once-across-instances jobs).
 */

/** Raw files younger than this are checked against the database at startup. */
const RECOVERY_WINDOW_MS = 60 * 60 * 1000;

export interface RunningCentral {
  url: string;
  store: Storage;
  app: FastifyInstance;
  /** The alerts' evaluator and sender (tests evaluate and send through it without waiting). */
  alerts: AlertService;
  /** What the operator must see at start (printed by `central serve`), e.g. that the seed bridge is on. */
  warnings: string[];
  close(): Promise<void>;
}

/** The checkout the agent files are built in (dist/'s parent). */
function rootOf(catalog: AgentCatalog): string {
  return dirname(catalog.dirs.bundleDir.replace(/[\\/]+$/, ""));
}

/** Builds the IngestService for a config (also used by `central import` / `rebuild`). */
export function createIngestService(
  config: CentralConfig,
  store: Storage,
  log: AutomationLog | null,
): IngestService {
  return new IngestService({
    store,
    dataDir: config.dataDir,
    receivedMetricsDir: config.paths.receivedMetrics,
    log,
    maxFutureSkewMs: config.maxFutureSkewMs,
    maxRows: config.maxRowsPerFile,
    mountLimits: config.mountLimits,
    parseWorkers: config.parseWorkers,
    seedTimeZone: config.reportTimeZone,
    hourlyRetentionMonths: config.retention.hourlyMonths,
    rawStore: rawStoreMode(config.rawStore, store),
  });
}

/**
 * `central serve` in-process: opens the store (unless given), listens on
 * config.listen (TLS when configured), starts the delivery scheduler.
 * close() stops everything it started, in reverse order.
 */
export async function startCentral(
  config: CentralConfig,
  opts: {
    store?: Storage;
    logger?: FastifyServerOptions["logger"];
    /** How often new uploads are folded into the rollups (tests shorten it). */
    rollupRefreshMs?: number;
    /** The release, for the "serve started" log entry (the CLI passes it). */
    version?: string;
    /** The once-across-instances jobs (default: ./jobs/serve-jobs.ts). */
    jobs?: readonly ScheduledJob[];
    /** How often the job runner looks for due jobs (tests shorten it). */
    jobCheckMs?: number;
    /** Where `url_env`, `secret_env` and `token_env` of SRVUTIL_ALERTS_CONFIG are looked up (the CLI passes process.env; default none). */
    env?: NodeJS.ProcessEnv;
    /** How often the alerts' outbox is looked at (tests shorten it). */
    alertSendPollMs?: number;
    /** The backoff of a channel that is down (tests shorten it; default AlertService's). */
    alertSendRetry?: AlertServiceOptions["sendRetry"];
    /** The agent files GET /agent/{platform} serves (default dist/bin and dist of this checkout). */
    agentCatalog?: AgentCatalog;
  } = {},
): Promise<RunningCentral> {
  // Read before anything opens: a mistake in the targets' file stops the start with every problem named.
  const scrapeTargets =
    config.interop.scrapeConfigFile === null ? [] : loadScrapeTargets(config.interop.scrapeConfigFile);
  const alerting: Alerting = loadAlerting(config, opts.env ?? {});
  const log = new AutomationLog(config.paths.automationLog, config.logRotation);
  const ownsStore = opts.store === undefined;
  const store = opts.store ?? (await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous }));
  let app: FastifyInstance | null = null;
  let ingest: IngestService | null = null;
  let rollups: RollupMaintainer | null = null;
  let scraper: Scraper | null = null;
  const id = instanceId();
  const metrics = new IngestMetrics();
  const warnings: string[] = [];
  const agentCatalog = opts.agentCatalog ?? new AgentCatalog(defaultAgentDistDirs());
  try {
    await store.init();
    await alerting.tags.refresh(store.tags);
    const tls = config.tls
      ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
      : null;
    ingest = createIngestService(config, store, log);
    await ingest.warmUp();
    const recovery = await ingest.recoverRecent(RECOVERY_WINDOW_MS);
    if (recovery.recovered > 0 || recovery.failed.length > 0) {
      log.warn("recovered uploads", { recovered: recovery.recovered, failed: recovery.failed });
    }
    // Created here so the dashboard can fold new uploads before a page; started after listen.
    rollups = new RollupMaintainer(store.rollups, log, opts.rollupRefreshMs);
    const rollupsForPages = rollups;
    const tokenCache = new AgentTokenCache();
    await tokenCache.preload(store);
    // One sink for the push routes and the scraper.
    // One record of what feeds each server, for the agent routes and the foreign inputs alike.
    const serverInputs = new ServerInputRecorder(store.serverInputs, log);
    const sink = new InteropSink({ ingest, store, log, inputs: serverInputs });
    scraper = new Scraper({
      targets: scrapeTargets,
      accept: (groups, source, writer) => sink.accept(groups, source, writer),
      coordination: store.coordination,
      instanceId: id,
      log,
      statusStore: store.scrapeStatus,
    });
    const dashboard = dashboardOptions(config, store, log);
    app = await createApiApp({
      store,
      ingest,
      tokenCache,
      maxBodyBytes: config.maxBodyBytes,
      rateLimit: config.rateLimit,
      metrics,
      logger: opts.logger ?? false,
      tls,
      seedBridge: config.seedCompat.enabled
        ? { networks: config.seedCompat.networks, sourceTimeZone: config.reportTimeZone }
        : null,
      log,
      dashboard: {
        ...dashboard,
        freshRollups: () => rollupsForPages.freshen(),
        // The same channels the service sends through: the channels page tests them.
        alerting: { ...alerting, configFile: config.alertsConfigFile },
        missingAgents: () => agentCatalog.missing(),
        // Scoped viewers of tag-selecting groups: the current tags, as alert routing reads them.
        tagsOf: (server: string) => alerting.tags.of(server),
      },
      trustedProxies: config.trustedProxies,
      authFailuresPerMinute: config.authFailuresPerMinute,
      timeouts: config.httpTimeouts,
      hsts: config.tls !== null || (config.digest.publicUrl?.startsWith("https:") ?? false),
      interopLabels: {
        prometheusServerLabel: config.interop.prometheusServerLabel,
        otlpServerAttribute: config.interop.otlpServerAttribute,
        telegrafServerTag: config.interop.telegrafServerTag,
      },
      interopSink: sink,
      serverInputs,
      scrape: { scraper, instanceId: id },
      agentCatalog,
      publicUrl: config.digest.publicUrl,
      agentUpdates: {
        signer: ManifestSigner.loadOrCreate(config.agentUpdates.signingKeyFile),
        policy: policyReader(store, dashboard.groups, config.agentUpdates.autoUpdate),
        release: new ReleaseRecord(
          join(dirname(config.agentUpdates.signingKeyFile), "agent-release.json"),
          AGENT_VERSION,
        ),
      },
    });
    const missingAgents = await agentCatalog.missing();
    if (missingAgents.length > 0) {
      // The one-command install (GET /install.sh) downloads from here: say which downloads will 404 and why.
      const warning =
        `agent downloads: not built for ${missingAgents.join(", ")} (looked in ${agentCatalog.dirs.binDir}); ` +
        `build them with \`${BUILD_COMMAND}\` in ${rootOf(agentCatalog)}`;
      log.warn("agent downloads missing", { missing: missingAgents, dir: agentCatalog.dirs.binDir });
      warnings.push(warning);
    }
    const rawWarning = rawStoreWarning(rawStoreMode(config.rawStore, store), store, config.sqliteSynchronous);
    if (rawWarning !== null) {
      log.warn("raw store", { warning: rawWarning });
      warnings.push(rawWarning);
    }
    if (config.seedCompat.enabled) {
      const networks = config.seedCompat.networks.join(", ");
      const warning = `seed bridge on: POST ${SEED_BRIDGE_PATH} accepts uploads without a token from ${networks} for enrolled servers`;
      log.warn("seed bridge on", { path: SEED_BRIDGE_PATH, networks: config.seedCompat.networks });
      warnings.push(warning);
    }
    // The same database as the metrics: /metrics reads the deliveries the scheduler writes.
    registerDeliveryMetrics(metrics.registry, { deliveries: store.deliveries, config });
    const mail = mailDestination(config);
    if (mail.outboxOnly) {
      log.warn("mail not sent: outbox only", { outbox: config.paths.outbox, recipients: mail.recipients });
      warnings.push(mail.summary.replace(/^mail: /, ""));
    }
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    await app?.close();
    await ingest?.close();
    if (ownsStore) await store.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.listen.port;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  const url = `${config.tls ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  const scheduler = await startDeliveryScheduler({ config, store, log });
  const maintainer = rollups!;
  await maintainer.start(config.reportTimeZone);
  const presence = new InstancePresence(
    store.coordination,
    { id, description: `${hostname()} pid ${process.pid} ${url}`, startedAt: Date.now() },
    log,
  );
  await presence.start();
  const jobs = new JobRunner({
    coordination: store.coordination,
    jobs:
      opts.jobs ??
      serveJobs(store, log, {
        retention: config.retention,
        receivedMetricsDir: config.paths.receivedMetrics,
      }),
    log,
    holder: id,
    ...(opts.jobCheckMs !== undefined ? { checkMs: opts.jobCheckMs } : {}),
  });
  jobs.start();
  const alerts = new AlertService({
    store,
    config: alerting.config,
    thresholds: resolveThresholds(config.thresholds),
    groupsOf: alerting.groupsOf,
    channels: alerting.channels,
    log,
    instanceId: id,
    publicUrl: config.digest.publicUrl,
    registry: metrics.registry,
    ...(opts.alertSendPollMs !== undefined ? { sendPollMs: opts.alertSendPollMs } : {}),
    ...(opts.alertSendRetry !== undefined ? { sendRetry: opts.alertSendRetry } : {}),
  });
  alerts.start();
  // Alert routes, silences and scoped viewers match tag-selecting groups on the current tags
  // (read first right after the schema is ready, before the app listens).
  const tagRefresh = setInterval(() => {
    alerting.tags
      .refresh(store.tags)
      .catch((err: unknown) => log.warn("current tags not read", { error: String(err) }));
  }, CURRENT_TAGS_REFRESH_MS);
  tagRefresh.unref();
  const runningScraper = scraper!;
  runningScraper.start();
  // The digests of the agent files, hashed once now rather than by the first download.
  const warming = agentCatalog
    .warmUp()
    .catch((err: unknown) => log.warn("agent downloads: hashing failed", { error: String(err) }));
  log.info("serve started", {
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    url,
    listen: `${config.listen.host}:${port}`,
    db: store.kind,
    tls: config.tls !== null,
    instance: id,
  });

  const running = app;
  const runningIngest = ingest;
  let closing: Promise<void> | null = null;
  return {
    url,
    store,
    app: running,
    alerts,
    warnings,
    close: () => {
      closing ??= (async () => {
        await warming;
        clearInterval(tagRefresh);
        await runningScraper.stop();
        await alerts.stop();
        alerting.mail.close();
        await jobs.stop();
        await maintainer.stop();
        await scheduler.stop();
        await presence.stop();
        await running.close();
        await runningIngest.close();
        if (ownsStore) await store.close();
        log.info("serve stopped", { url });
        log.close();
      })();
      return closing;
    },
  };
}
