import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import { formatTimestamp } from "../../../protocol/index.js";
import type { Scraper } from "../../scrape/scraper.js";
import { errorResponseSchema } from "../schemas.js";
import { type ViewerAuthDeps, viewerOnly, viewerScope } from "../viewer-auth.js";

/**
 * GET /api/v1/scrape/targets: each scrape target's state as the instance
 * that scrapes it stored it (store.scrapeStatus: up, or down since when and
 * why), so every instance answers the same and a silent server's cause is
 * one request away. This instance's configured targets that no instance has
 * scraped yet are "pending". Viewer tokens only, like the read API.
 */
export interface ScrapeTargetsRouteDeps extends ViewerAuthDeps {
  /** This instance's configured targets (their intervals; the ones not scraped yet). */
  scraper: Pick<Scraper, "targets">;
  instanceId: string;
}

const at = (ms: number | null): string | null => (ms === null ? null : formatTimestamp(ms));

export const scrapeTargetsRoute: FastifyPluginAsyncJsonSchemaToTs<{
  Options: ScrapeTargetsRouteDeps;
}> = async (app, deps) => {
  const viewerToken = viewerOnly(deps);
  const nullableString = { type: ["string", "null"] } as const;

  app.get(
    "/api/v1/scrape/targets",
    {
      onRequest: viewerToken,
      schema: {
        summary: "Scrape targets (SRVUTIL_SCRAPE_CONFIG) and their last scrape",
        tags: ["read"],
        security: [{ viewerToken: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              instance: { type: "string" },
              targets: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    server: { type: "string" },
                    url: { type: "string" },
                    interval_seconds: { type: ["number", "null"] },
                    state: { type: "string", enum: ["pending", "up", "down"] },
                    scraped_by: nullableString,
                    last_scrape_at: nullableString,
                    last_success_at: nullableString,
                    down_since: nullableString,
                    last_error: nullableString,
                    last_error_at: nullableString,
                  },
                },
              },
            },
          },
          401: errorResponseSchema,
          429: errorResponseSchema,
        },
      },
    },
    async (req) => {
      const scope = viewerScope(req, deps);
      const stored = new Map((await deps.store.scrapeStatus.list()).map((s) => [s.server, s]));
      const configured = new Map(deps.scraper.targets().map((t) => [t.server, t]));
      const servers = [...new Set([...configured.keys(), ...stored.keys()])]
        .filter(scope.sees)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return {
        instance: deps.instanceId,
        targets: servers.map((server) => {
          const c = configured.get(server);
          const s = stored.get(server);
          return {
            server,
            // The stored URL is the one scraped; a config changed since shows at the next write.
            url: s?.url ?? c?.url ?? "",
            interval_seconds: c?.intervalSeconds ?? null,
            state: s?.state ?? ("pending" as const),
            scraped_by: s?.instance ?? null,
            // Each write follows a scrape: the newest written is at most STATUS_REFRESH_MS behind the last.
            last_scrape_at: at(s?.updatedAt ?? null),
            last_success_at: at(s?.lastSuccessAt ?? null),
            down_since: at(s?.downSince ?? null),
            last_error: s?.lastError ?? null,
            last_error_at: s?.state === "down" ? at(s.updatedAt) : null,
          };
        }),
      };
    },
  );
};
