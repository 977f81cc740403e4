import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import type { Storage } from "../../storage/store.js";
import type { IngestMetrics } from "../ingest-metrics.js";

export interface OpsRouteDeps {
  /** /readyz answers 200 while it pings. */
  store: Storage;
  /** The counters /metrics serves. */
  metrics: IngestMetrics;
}

/**
 * What operators and their tools ask: GET /healthz (the process is up),
 * /readyz (the database answers), /metrics (Prometheus) and
 * /api/v1/openapi.json (the API's description, from every route's schema).
 */
export const opsRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: OpsRouteDeps }> = async (app, deps) => {
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
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );
  app.get("/api/v1/openapi.json", { schema: { summary: "This document", tags: ["ops"] } }, async () =>
    openApiDocument(app),
  );
};

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
