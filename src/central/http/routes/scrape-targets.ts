import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyRequest } from "fastify";
import { formatTimestamp } from "../../../protocol/index.js";
import type { RateLimiter } from "../../auth/rate-limit.js";
import { authenticate } from "../../auth/tokens.js";
import type { Scraper } from "../../scrape/scraper.js";
import type { Storage } from "../../storage/store.js";
import { tooManyFailures } from "../agent-auth.js";
import { HttpError } from "../http-error.js";
import { errorResponseSchema } from "../schemas.js";

/**
 * GET /api/v1/scrape/targets: each scrape target as this instance sees it
 * (up, down with its last error, or scraped by another instance), so a
 * silent server's cause is one request away. Viewer tokens only, like the
 * read API.
 */
export interface ScrapeTargetsRouteDeps {
  store: Storage;
  scraper: Pick<Scraper, "targets">;
  instanceId: string;
  authFailures?: RateLimiter;
}

const at = (ms: number | null): string | null => (ms === null ? null : formatTimestamp(ms));

export const scrapeTargetsRoute: FastifyPluginAsyncJsonSchemaToTs<{
  Options: ScrapeTargetsRouteDeps;
}> = async (app, deps) => {
  const viewerOnly = async (req: FastifyRequest) => {
    const failures =
      deps.authFailures === undefined
        ? undefined
        : { limiter: deps.authFailures, address: req.client.address };
    const auth = await authenticate(deps.store, req.headers.authorization, "viewer", undefined, failures);
    if (!auth.ok && auth.reason === "throttled") throw tooManyFailures(auth);
    if (!auth.ok) {
      throw new HttpError(
        401,
        "unauthorized",
        "a valid viewer token is required: Authorization: Bearer srvv_…",
        {
          "www-authenticate": 'Bearer realm="srvutil"',
        },
      );
    }
  };
  const nullableString = { type: ["string", "null"] } as const;

  app.get(
    "/api/v1/scrape/targets",
    {
      onRequest: viewerOnly,
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
                    interval_seconds: { type: "number" },
                    state: { type: "string", enum: ["pending", "up", "down", "elsewhere"] },
                    scraped_by: nullableString,
                    last_scrape_at: nullableString,
                    last_success_at: nullableString,
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
    async () => ({
      instance: deps.instanceId,
      targets: deps.scraper.targets().map((t) => ({
        server: t.server,
        url: t.url,
        interval_seconds: t.intervalSeconds,
        state: t.state,
        scraped_by: t.scrapedBy,
        last_scrape_at: at(t.lastScrapeAt),
        last_success_at: at(t.lastSuccessAt),
        last_error: t.lastError,
        last_error_at: at(t.lastErrorAt),
      })),
    }),
  );
};
