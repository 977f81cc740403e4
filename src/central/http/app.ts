import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import { errorCode } from "../../errors.js";
import { clipEcho } from "../../protocol/index.js";
import type { Tags } from "../../protocol/tags.js";
import { AgentCatalog, defaultAgentDistDirs } from "../agent-dist/catalog.js";
import { type ClientAddress, registerClientAddress } from "../auth/client-address.js";
import { RateLimiter, type RateLimitOptions } from "../auth/rate-limit.js";
import type { AgentTokenCache } from "../auth/token-cache.js";
import type { AutomationLog } from "../automation-log.js";
import type { DashboardOptions } from "../dashboard/index.js";
import type { DeliveryGroup } from "../delivery/groups.js";
import type { IngestService } from "../ingest/ingest-service.js";
import { InteropSink } from "../ingest/interop/sink.js";
import { ServerInputRecorder } from "../ingest/server-inputs.js";
import { AgentTagRecorder } from "../ingest/tags.js";
import type { Storage } from "../storage/store.js";
import { dashboardPlugin } from "./dashboard/plugin.js";
import { errorAnswer } from "./error-answer.js";
import { IngestMetrics } from "./ingest-metrics.js";
import { DEFAULT_INTEROP_LABELS, type InteropLabels, type InteropRouteDeps } from "./interop-auth.js";
import { type AgentDistRouteDeps, agentDistRoutes } from "./routes/agent-dist.js";
import { alertsRoute } from "./routes/alerts.js";
import { collectdRoute } from "./routes/collectd.js";
import { enrolRoute } from "./routes/enrol.js";
import { opsRoutes } from "./routes/ops.js";
import { otlpRoute } from "./routes/otlp.js";
import { prometheusWriteRoute } from "./routes/prometheus-write.js";
import { readRoutes } from "./routes/read.js";
import { type ScrapeTargetsRouteDeps, scrapeTargetsRoute } from "./routes/scrape-targets.js";
import { type SeedBridgeSettings, seedBridgeRoute } from "./routes/seed-bridge.js";
import { telegrafRoute } from "./routes/telegraf.js";
import { registerCsvBodyParser, uploadRoute } from "./routes/upload.js";
import { whoamiRoute } from "./routes/whoami.js";
import {
  CONNECTION_IDLE_TIMEOUT_MS,
  clientErrorAnswer,
  DEFAULT_HTTP_TIMEOUTS,
  type HttpTimeouts,
  KEEP_ALIVE_TIMEOUT_MS,
  nodeServerTimeoutOptions,
  registerBodyIdleTimeout,
} from "./timeouts.js";

export { createAgentToken, createViewerToken } from "../auth/tokens.js";

export interface ApiDeps {
  store: Storage;
  ingest: IngestService;
  /** Active agent tokens the upload route may authenticate from (central serve preloads it); default an empty one. */
  tokenCache?: AgentTokenCache;
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
  /** Reverse proxies whose forwarding headers are believed (config.trustedProxies); default none. */
  trustedProxies?: readonly string[];
  /** Failed token authentications per client address and minute, 0 unlimited; default 30. */
  authFailuresPerMinute?: number;
  /** How long a client may take to send a request; default DEFAULT_HTTP_TIMEOUTS. */
  timeouts?: HttpTimeouts;
  /** Send Strict-Transport-Security (the central serves TLS, or SRVUTIL_PUBLIC_URL is https); default false. */
  hsts?: boolean;
  /** Where each foreign input finds the server name (config.interop); default DEFAULT_INTEROP_LABELS. */
  interopLabels?: InteropLabels;
  /** What feeds each server (store.serverInputs), shared with the sink; default one of this app's own. */
  serverInputs?: ServerInputRecorder;
  /** The tags agents declare with their uploads (store.tags); default one of this app's own. */
  agentTags?: AgentTagRecorder;
  /** The foreign inputs' sink (central serve shares it with its scraper); default one of this app's own. */
  interopSink?: InteropSink;
  /** The scraper of `central serve` (GET /api/v1/scrape/targets); absent: the route lists the stored states only. */
  scrape?: Omit<ScrapeTargetsRouteDeps, "store" | "authFailures" | "groups" | "tagsOf">;
  /**
   * The delivery groups (groups file) a scoped viewer token is limited to
   * (src/central/auth/principal.ts); default the dashboard's, else none (a
   * scoped token then sees no server).
   */
  groups?: readonly DeliveryGroup[];
  /** A server's effective tags now, for scoped viewers of groups that select by tags (central serve's current tags). */
  tagsOf?: (server: string) => Tags;
  /** The agent files GET /agent/{platform} serves; default dist/bin and dist of this checkout. */
  agentCatalog?: AgentCatalog;
  /** SRVUTIL_PUBLIC_URL: the base URL put into /install.sh and /install.ps1; default none (the request's origin). */
  publicUrl?: string | null;
  /** Signs GET /agent/manifest.json and decides its auto_update (the stored policy); absent or null: unsigned, auto-update off. */
  agentUpdates?: AgentDistRouteDeps["updates"];
}

/**
 * The fastify app with every route, not listening: tests use app.inject(),
 * startCentral() listens. Each group of routes is an encapsulated plugin:
 * ./routes/upload.ts (POST /api/v1/metrics), ./routes/read.ts
 * (GET /api/v1/servers, GET /api/v1/servers/{name}/samples),
 * ./routes/seed-bridge.ts (POST /upload_metrics), ./routes/whoami.ts
 * (GET /api/v1/agent/whoami), ./routes/enrol.ts (POST /api/v1/enrol), ./routes/agent-dist.ts (GET /agent/…,
 * /install.sh, /install.ps1), ./dashboard/plugin.ts (the web pages) and
 * ./routes/ops.ts (/healthz, /readyz, /metrics, /api/v1/openapi.json).
 * This file holds what applies to all of them: the server options, the
 * client address, the body parsers, the error answers and the hooks.
 */
export async function createApiApp(deps: ApiDeps): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? new IngestMetrics();
  const rateLimiter = new RateLimiter(deps.rateLimit ?? DEFAULT_RATE_LIMIT);
  const failuresPerMinute = deps.authFailuresPerMinute ?? DEFAULT_AUTH_FAILURES_PER_MINUTE;
  // A bucket of `failuresPerMinute` failures per address, refilled over a minute.
  const authFailures = new RateLimiter({ perSecond: failuresPerMinute / 60, burst: failuresPerMinute });
  const timeouts = deps.timeouts ?? DEFAULT_HTTP_TIMEOUTS;
  const nodeTimeouts = nodeServerTimeoutOptions(timeouts);
  const options: FastifyServerOptions = {
    logger: withRedaction(deps.logger ?? false),
    // Per-request log lines would cost more than the upload at 2,000/s and
    // say less than automation.log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Multipart and CSV bodies are capped by our own readers; this only bounds other parsers.
    bodyLimit: deps.maxBodyBytes,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    requestTimeout: timeouts.requestMs,
    // 408 on a timeout, 400/431 on a request Node's parser refuses: the API's error body and code.
    clientErrorHandler: clientErrorAnswer,
    connectionTimeout: CONNECTION_IDLE_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  };
  const app = (deps.tls
    ? Fastify({
        ...options,
        https: { cert: deps.tls.cert, key: deps.tls.key, ...nodeTimeouts },
      } as FastifyServerOptions)
    : Fastify({ ...options, http: nodeTimeouts })) as unknown as FastifyInstance;
  // Before any route: the list the attacker test checks every read route of.
  const routes: RegisteredRoute[] = [];
  registeredRoutes.set(app, routes);
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });
  // Before every other hook and route: they all read req.client.
  registerClientAddress(app, deps.trustedProxies ?? []);
  registerBodyIdleTimeout(app, timeouts.bodyIdleMs);
  if (deps.hsts === true) {
    app.addHook("onSend", async (_req, reply, payload) => {
      reply.header("strict-transport-security", HSTS);
      return payload;
    });
  }

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
          enrolmentToken: {
            type: "http",
            scheme: "bearer",
            description: "srve_… enrolment token: trades for a new server's own agent token (docs/enrol.md)",
          },
          relayToken: {
            type: "http",
            scheme: "bearer",
            description: "srvr_… token that may write for the servers of its glob (the push inputs)",
          },
          tokenAsBasicPassword: {
            type: "http",
            scheme: "basic",
            description:
              "the push inputs: an agent or relay token as the password (the user name is not read)",
          },
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
    if (status >= 500) req.log.error({ err, client: req.client?.address }, "request failed");
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      error: `no route ${req.method} ${clipEcho(req.url.split("?")[0]!, 200)}`,
      line: null,
      column: null,
      reason: "not_found",
      code: errorCode("not_found"),
    }),
  );
  app.addHook("onResponse", async (req, reply) => {
    if (req.routeOptions.url === "/api/v1/metrics") {
      metrics.latency.observe({ status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    }
  });

  const inputs = deps.serverInputs ?? new ServerInputRecorder(deps.store.serverInputs, deps.log ?? null);
  // Each route group is an encapsulated plugin, registered in this order (the
  // OpenAPI document lists them so); the error handlers and hooks above apply to all.
  await app.register(uploadRoute, {
    store: deps.store,
    ingest: deps.ingest,
    ...(deps.tokenCache === undefined ? {} : { tokenCache: deps.tokenCache }),
    rateLimiter,
    authFailures,
    metrics,
    maxBodyBytes: deps.maxBodyBytes,
    inputs,
    tags: deps.agentTags ?? new AgentTagRecorder(deps.store.tags, deps.log ?? null),
  });
  const groups = deps.groups ?? deps.dashboard?.groups ?? [];
  const tagsOf = deps.tagsOf ?? deps.dashboard?.tagsOf;
  const scoped = { groups, ...(tagsOf === undefined ? {} : { tagsOf }) };
  await app.register(readRoutes, { store: deps.store, authFailures, ...scoped });
  await app.register(alertsRoute, { store: deps.store, authFailures, ...scoped });
  if (deps.seedBridge) {
    await app.register(seedBridgeRoute, {
      ...deps.seedBridge,
      store: deps.store,
      ingest: deps.ingest,
      maxBodyBytes: deps.maxBodyBytes,
      log: deps.log ?? null,
      // The same rate per client address as an agent token gets.
      rateLimiter: new RateLimiter(deps.rateLimit ?? DEFAULT_RATE_LIMIT),
    });
  }
  // The foreign inputs (docs/integrations.md): each route decodes its format and stores through the one sink.
  const interop: InteropRouteDeps = {
    store: deps.store,
    sink:
      deps.interopSink ??
      new InteropSink({ ingest: deps.ingest, store: deps.store, log: deps.log ?? null, inputs }),
    labels: deps.interopLabels ?? DEFAULT_INTEROP_LABELS,
    maxBodyBytes: deps.maxBodyBytes,
    authFailures,
  };
  await app.register(scrapeTargetsRoute, {
    store: deps.store,
    authFailures,
    ...scoped,
    ...(deps.scrape ?? { scraper: { targets: () => [] }, instanceId: "" }),
  });
  await app.register(prometheusWriteRoute, interop);
  await app.register(otlpRoute, interop);
  await app.register(telegrafRoute, interop);
  await app.register(collectdRoute, interop);
  await app.register(whoamiRoute, { store: deps.store, authFailures, inputs });
  await app.register(enrolRoute, { store: deps.store, authFailures, log: deps.log ?? null });
  await app.register(agentDistRoutes, {
    catalog: deps.agentCatalog ?? new AgentCatalog(defaultAgentDistDirs()),
    publicUrl: deps.publicUrl ?? null,
    tls: deps.tls != null,
    updates: deps.agentUpdates ?? null,
    store: deps.store,
    authFailures,
  });
  if (deps.dashboard) await app.register(dashboardPlugin(deps.dashboard));
  await app.register(opsRoutes, { store: deps.store, metrics });
  return app;
}

export interface RegisteredRoute {
  method: string;
  url: string;
}

const registeredRoutes = new WeakMap<FastifyInstance, readonly RegisteredRoute[]>();

/** Every route createApiApp registered (method and URL pattern), in order: tests check each read route's scope. */
export function routesOf(app: FastifyInstance): readonly RegisteredRoute[] {
  return registeredRoutes.get(app) ?? [];
}

const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 5, burst: 60 };
const DEFAULT_AUTH_FAILURES_PER_MINUTE = 30;
/** A year; no includeSubDomains, since other hosts of the domain are not ours to pin. */
const HSTS = "max-age=31536000";

function withRedaction(logger: FastifyServerOptions["logger"]): FastifyServerOptions["logger"] {
  if (logger === false || logger === undefined) return false;
  const base = typeof logger === "object" ? logger : {};
  return {
    ...base,
    // Tokens never reach a log line, whatever else gets logged.
    redact: { paths: ["req.headers.authorization", "headers.authorization"], censor: "[redacted]" },
    serializers: {
      // The client address (../auth/client-address.ts), not a proxy's.
      req: (req: { method: string; url: string; ip?: string; client?: ClientAddress | null }) => ({
        method: req.method,
        url: req.url,
        remoteAddress: req.client?.address ?? req.ip,
      }),
    },
  } as FastifyServerOptions["logger"];
}
