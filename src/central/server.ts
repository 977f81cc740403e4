import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import { SrvutilError } from "../errors.js";
import { CsvValidationError } from "../protocol/index.js";
import { RollupMaintainer } from "./aggregate/rollup-maintainer.js";
import { RateLimiter, type RateLimitOptions } from "./auth/rate-limit.js";
import { AutomationLog } from "./automation-log.js";
import type { CentralConfig } from "./config.js";
import { type DashboardOptions, dashboardOptions, dashboardPlugin } from "./dashboard/index.js";
import { mailDestination } from "./delivery/mail-destination.js";
import { registerDeliveryMetrics } from "./delivery/prometheus.js";
import { startDeliveryScheduler } from "./delivery/scheduler.js";
import { HttpError } from "./ingest/http-error.js";
import { IngestService, ServerMismatchError } from "./ingest/ingest-service.js";
import { IngestMetrics } from "./ingest/prometheus.js";
import { registerReadRoutes } from "./ingest/read-routes.js";
import type { ErrorResponse } from "./ingest/schemas.js";
import { registerSeedBridge, SEED_BRIDGE_PATH, type SeedBridgeSettings } from "./ingest/seed/bridge.js";
import { registerCsvBodyParser, registerUploadRoute, UPLOAD_CONTENT_TYPES } from "./ingest/upload-route.js";
import { registerWhoamiRoute } from "./ingest/whoami-route.js";
import { InstancePresence } from "./jobs/instance-presence.js";
import { instanceId, JobRunner, type ScheduledJob } from "./jobs/scheduled-jobs.js";
import { serveJobs } from "./jobs/serve-jobs.js";
import { openStorage } from "./storage/open.js";
import { rawStoreMode, rawStoreWarning } from "./storage/raw-upload-store.js";
import type { Storage } from "./storage/store.js";

export { createAgentToken, createViewerToken } from "./auth/tokens.js";

export interface ApiDeps {
  store: Storage;
  ingest: IngestService;
  /** Cap on an upload, on the wire and after decompression. */
  maxBodyBytes: number;
  /** Per-token upload rate; perSecond 0 disables it. Default 5/s with a burst of 60 (config.rateLimit). */
  rateLimit?: RateLimitOptions;
  metrics?: IngestMetrics;
  /** fastify logger; `false` (default) for tests. Authorization headers are redacted either way. */
  logger?: FastifyServerOptions["logger"];
  tls?: { cert: Buffer; key: Buffer } | null;
  /** POST /upload_metrics for the seed system's agents; absent or null: off. */
  seedBridge?: SeedBridgeSettings | null;
  log?: AutomationLog | null;
  /** The web dashboard at / (src/central/dashboard); absent or null: off. */
  dashboard?: DashboardOptions | null;
}

/**
 * The fastify app with every route, not listening: tests use app.inject(),
 * startCentral() listens. Routes: POST /api/v1/metrics, GET /api/v1/servers,
 * GET /api/v1/servers/{name}/samples, /healthz, /readyz, /metrics,
 * /api/v1/openapi.json.
 */
export async function createApiApp(deps: ApiDeps): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? new IngestMetrics();
  const rateLimiter = new RateLimiter(deps.rateLimit ?? DEFAULT_RATE_LIMIT);
  const options: FastifyServerOptions = {
    logger: withRedaction(deps.logger ?? false),
    // Per-request log lines would cost more than the upload at 2,000/s and
    // say less than automation.log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Multipart and CSV bodies are capped by our own readers; this only bounds other parsers.
    bodyLimit: deps.maxBodyBytes,
    return503OnClosing: true,
    forceCloseConnections: "idle",
  };
  const app = (deps.tls
    ? Fastify({ ...options, https: { cert: deps.tls.cert, key: deps.tls.key } } as FastifyServerOptions)
    : Fastify(options)) as unknown as FastifyInstance;

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "srvutil central API",
        version: "1",
        description: "Metrics ingest (agents) and read API (viewers). See docs/api.md.",
      },
      components: {
        securitySchemes: {
          agentToken: { type: "http", scheme: "bearer", description: "srvu_… token bound to one server" },
          viewerToken: { type: "http", scheme: "bearer", description: "srvv_… token for the read API" },
        },
      },
    },
  });

  app.removeAllContentTypeParsers();
  registerCsvBodyParser(app, deps.maxBodyBytes);
  await app.register(multipart, { limits: { fileSize: deps.maxBodyBytes, files: 1, fields: 20, parts: 21 } });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const { status, body, headers } = errorAnswer(err);
    if (req.routeOptions.url === "/api/v1/metrics") {
      metrics.uploads.inc({ result: "rejected" });
      metrics.rejections.inc({ reason: body.reason });
    }
    if (status >= 500) req.log.error({ err }, "request failed");
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      error: `no route ${req.method} ${req.url.split("?")[0]!.slice(0, 200)}`,
      line: null,
      column: null,
      reason: "not_found",
    }),
  );
  app.addHook("onResponse", async (req, reply) => {
    if (req.routeOptions.url === "/api/v1/metrics") {
      metrics.latency.observe({ status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    }
  });

  registerUploadRoute(app, {
    store: deps.store,
    ingest: deps.ingest,
    rateLimiter,
    metrics,
    maxBodyBytes: deps.maxBodyBytes,
  });
  registerReadRoutes(app, { store: deps.store });
  if (deps.seedBridge) {
    await registerSeedBridge(app, {
      ...deps.seedBridge,
      store: deps.store,
      ingest: deps.ingest,
      maxBodyBytes: deps.maxBodyBytes,
      log: deps.log ?? null,
    });
  }
  registerWhoamiRoute(app, { store: deps.store });
  if (deps.dashboard) await app.register(dashboardPlugin(deps.dashboard));

  app.get(
    "/healthz",
    { schema: { summary: "Process is up", tags: ["ops"], response: { 200: statusSchema } } },
    async () => ({ status: "ok" }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        summary: "Database answers",
        tags: ["ops"],
        response: { 200: statusSchema, 503: statusSchema },
      },
    },
    async (_req, reply) => {
      const ok = await deps.store.ping().catch(() => false);
      return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "database unreachable" });
    },
  );
  app.get(
    "/metrics",
    { schema: { summary: "Prometheus metrics of this central", tags: ["ops"] } },
    async (_req, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
  app.get("/api/v1/openapi.json", { schema: { summary: "This document", tags: ["ops"] } }, async () =>
    openApiDocument(app),
  );
  return app;
}

const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 5, burst: 60 };

const statusSchema = { type: "object", properties: { status: { type: "string" } } } as const;

/** The generated document, plus the upload's request body that fastify's schema cannot express (raw CSV). */
function openApiDocument(app: FastifyInstance): unknown {
  const doc = structuredClone(app.swagger()) as {
    paths?: Record<string, Record<string, Record<string, unknown>>>;
  };
  const post = doc.paths?.["/api/v1/metrics"]?.post;
  if (post !== undefined) {
    post.requestBody = {
      required: true,
      content: {
        "text/csv": { schema: { type: "string", description: "Metrics CSV v1 (docs/protocol.md)" } },
        "application/octet-stream": { schema: { type: "string", format: "binary" } },
        "multipart/form-data": {
          schema: {
            type: "object",
            required: ["file"],
            properties: { file: { type: "string", format: "binary" } },
          },
        },
      },
    };
    post.parameters = [
      {
        name: "Content-Encoding",
        in: "header",
        required: false,
        schema: { type: "string", enum: ["gzip", "identity"] },
      },
    ];
  }
  return doc;
}

function errorAnswer(err: FastifyError | Error): {
  status: number;
  body: ErrorResponse;
  headers: Record<string, string>;
} {
  const answer = (
    status: number,
    reason: string,
    error: string,
    line: number | null = null,
    column: string | null = null,
  ) => ({
    status,
    body: { error, line, column, reason },
    headers: {} as Record<string, string>,
  });
  if (err instanceof HttpError) {
    return { ...answer(err.statusCode, err.reason, err.message, err.line, err.column), headers: err.headers };
  }
  if (err instanceof CsvValidationError) {
    return answer(400, err.reason, err.describe(), err.line, err.column);
  }
  if (err instanceof ServerMismatchError) return answer(err.status, "forbidden_server", err.message);
  if (err instanceof SrvutilError) {
    // By category (src/errors.ts). Only the client's own mistakes are explained
    // to the client; configuration and dependency details stay in the log.
    switch (err.category) {
      case "bad_input":
        return answer(err.status, "bad_request", err.message);
      case "bad_config":
        return answer(err.status, "misconfigured", "the central is misconfigured; see its log");
      case "unavailable":
        return answer(err.status, "unavailable", "a dependency of the central is unavailable; retry later");
      case "internal":
        return answer(err.status, "internal", "internal error; see the central's log");
    }
  }
  const code = (err as FastifyError).code;
  const status = (err as FastifyError).statusCode;
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || code === "FST_INVALID_MULTIPART_CONTENT_TYPE") {
    return answer(
      415,
      "unsupported_media_type",
      `Content-Type must be one of ${UPLOAD_CONTENT_TYPES.join(", ")} for uploads`,
    );
  }
  if (code === "FST_ERR_CTP_EMPTY_TYPE" || code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
    return answer(
      415,
      "unsupported_media_type",
      "Content-Type is missing: send text/csv or multipart/form-data",
    );
  }
  if (status === 413) return answer(413, "too_large", `request too large: ${err.message}`);
  if (code === "FST_ERR_VALIDATION") return answer(400, "bad_request", err.message);
  if (status !== undefined && status >= 400 && status < 500)
    return answer(status, "bad_request", err.message);
  return answer(500, "internal", "internal error; see the central's log");
}

function withRedaction(logger: FastifyServerOptions["logger"]): FastifyServerOptions["logger"] {
  if (logger === false || logger === undefined) return false;
  const base = typeof logger === "object" ? logger : {};
  return {
    ...base,
    // Tokens never reach a log line, whatever else gets logged.
    redact: { paths: ["req.headers.authorization", "headers.authorization"], censor: "[redacted]" },
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({
        method: req.method,
        url: req.url,
        remoteAddress: req.ip,
      }),
    },
  } as FastifyServerOptions["logger"];
}

/** Raw files younger than this are checked against the database at startup. */
const RECOVERY_WINDOW_MS = 60 * 60 * 1000;

export interface RunningCentral {
  url: string;
  store: Storage;
  app: FastifyInstance;
  /** What the operator must see at start (printed by `central serve`), e.g. that the seed bridge is on. */
  warnings: string[];
  close(): Promise<void>;
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
    parseWorkers: config.parseWorkers,
    seedTimeZone: config.reportTimeZone,
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
  } = {},
): Promise<RunningCentral> {
  const log = new AutomationLog(config.paths.automationLog, config.logRotation);
  const ownsStore = opts.store === undefined;
  const store = opts.store ?? (await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous }));
  let app: FastifyInstance | null = null;
  let ingest: IngestService | null = null;
  const metrics = new IngestMetrics();
  const warnings: string[] = [];
  try {
    await store.init();
    const tls = config.tls
      ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
      : null;
    ingest = createIngestService(config, store, log);
    await ingest.warmUp();
    const recovery = await ingest.recoverRecent(RECOVERY_WINDOW_MS);
    if (recovery.recovered > 0 || recovery.failed.length > 0) {
      log.warn("recovered uploads", { recovered: recovery.recovered, failed: recovery.failed });
    }
    app = await createApiApp({
      store,
      ingest,
      maxBodyBytes: config.maxBodyBytes,
      rateLimit: config.rateLimit,
      metrics,
      logger: opts.logger ?? false,
      tls,
      seedBridge: config.seedCompat.enabled
        ? { networks: config.seedCompat.networks, sourceTimeZone: config.reportTimeZone }
        : null,
      log,
      dashboard: dashboardOptions(config, store, log),
    });
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
  const rollups = new RollupMaintainer(store.rollups, log, opts.rollupRefreshMs);
  await rollups.start(config.reportTimeZone);
  const id = instanceId();
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
    warnings,
    close: () => {
      closing ??= (async () => {
        await jobs.stop();
        await rollups.stop();
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
