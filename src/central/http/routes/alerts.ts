import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import { episodeJson, silenceJson } from "../../alerts/json.js";
import { silenceVisible } from "../../auth/principal.js";
import { errorResponseSchema } from "../schemas.js";
import { type ViewerAuthDeps, viewerOnly, viewerScope } from "../viewer-auth.js";

/**
 * GET /api/v1/alerts: the alerts firing and pending now, and the silences in
 * force (docs/alerts.md), for scripts and other dashboards; with
 * `history_hours`, also the alerts resolved in that many hours. Viewer
 * tokens only, like the read API; a scoped token gets its servers' alerts
 * and the silences that name none of the others (silenceVisible).
 */
const nullableString = { type: ["string", "null"] } as const;
const MAX_ALERTS = 10_000;

const alertSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    server: { type: "string" },
    rule: { type: "string" },
    mount: nullableString,
    state: { type: "string", enum: ["pending", "firing", "resolved"] },
    severity: { type: "string", enum: ["warning", "critical"] },
    summary: { type: "string" },
    started_at: { type: "string" },
    firing_at: nullableString,
    resolved_at: nullableString,
    acknowledged_by: nullableString,
    acknowledged_at: nullableString,
    acknowledge_note: nullableString,
  },
} as const;

const silenceSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    server: nullableString,
    rule: nullableString,
    group: nullableString,
    starts_at: { type: "string" },
    ends_at: { type: "string" },
    reason: { type: "string" },
    created_by: { type: "string" },
  },
} as const;

export const alertsRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: ViewerAuthDeps }> = async (
  app,
  deps,
) => {
  app.get(
    "/api/v1/alerts",
    {
      onRequest: viewerOnly(deps),
      schema: {
        summary: "Alerts firing and pending now, silences in force, and optionally the recent history",
        tags: ["read"],
        security: [{ viewerToken: [] }],
        querystring: {
          type: "object",
          properties: {
            history_hours: {
              type: "integer",
              minimum: 1,
              maximum: 24 * 90,
              description: "Also the alerts resolved in the last this many hours",
            },
          },
        },
        response: {
          200: {
            type: "object",
            properties: {
              alerts: { type: "array", items: alertSchema },
              silences: { type: "array", items: silenceSchema },
            },
          },
          400: errorResponseSchema,
          401: errorResponseSchema,
          429: errorResponseSchema,
        },
      },
    },
    async (req) => {
      const now = Date.now();
      const scope = viewerScope(req, deps);
      const hours = req.query.history_hours;
      const alerts = deps.store.alerts;
      const [episodes, silences] = await Promise.all([
        hours === undefined
          ? alerts.readOpen().then((o) => o.episodes.sort((a, b) => b.startedAt - a.startedAt))
          : alerts.list({ from: now - hours * 3_600_000, to: now + 1, limit: MAX_ALERTS }),
        alerts.listSilences({ activeAt: now }),
      ]);
      return {
        alerts: episodes
          .filter((e) => scope.sees(e.server))
          .slice(0, MAX_ALERTS)
          .map(episodeJson),
        silences: silences.filter((x) => silenceVisible(scope, x)).map(silenceJson),
      };
    },
  );
};
