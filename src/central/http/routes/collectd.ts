import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyRequest } from "fastify";
import { CollectdFormatError, collectdToPointGroups } from "../../ingest/interop/collectd.js";
import type { InteropWriter, PointGroup } from "../../ingest/interop/point-group.js";
import { HttpError } from "../http-error.js";
import { type InteropRouteDeps, PUSH_SECURITY } from "../interop-auth.js";
import {
  mediaTypeOf,
  pushAuthentication,
  pushErrorHandler,
  pushResultSchema,
  registerPushBodyParser,
  requireBody,
  unsupportedMediaType,
} from "../push.js";
import { errorResponseSchema } from "../schemas.js";

const COLLECTD_MEDIA_TYPES = ["application/json"];

/**
 * POST /api/v1/collectd: collectd's write_http plugin with Format "JSON"
 * (StoreRates false). collectd does not retry a refused body; it logs the
 * status, so every refusal says what was wrong.
 */
export const collectdRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: InteropRouteDeps }> = async (
  app,
  deps,
) => {
  const writers = new WeakMap<FastifyRequest, InteropWriter>();
  registerPushBodyParser(app, COLLECTD_MEDIA_TYPES, deps.maxBodyBytes);
  app.setErrorHandler(pushErrorHandler(COLLECTD_MEDIA_TYPES));

  app.post(
    "/api/v1/collectd",
    {
      schema: {
        summary: "collectd write_http, Format JSON",
        description:
          "Body: the JSON array of value lists write_http sends (application/json, optionally gzip). Reads the " +
          "cpu, memory and df plugins; the server is each value list's host. See docs/integrations.md.",
        tags: ["ingest"],
        security: PUSH_SECURITY,
        response: {
          200: { ...pushResultSchema, description: "Stored (or already stored: a replay changes nothing)" },
          400: {
            ...errorResponseSchema,
            description: "Malformed body, or no instant had every family (missing_families); nothing stored",
          },
          401: { ...errorResponseSchema, description: "Missing, unknown or revoked token" },
          403: { ...errorResponseSchema, description: "A server the token may not write; nothing stored" },
          413: {
            ...errorResponseSchema,
            description: "Body larger than SRVUTIL_MAX_BODY_BYTES (after decompression)",
          },
          415: { ...errorResponseSchema, description: "Not JSON, or an unsupported Content-Encoding" },
        },
      },
      onRequest: pushAuthentication(deps, writers),
    },
    async (req) => {
      const mediaType = mediaTypeOf(req);
      if (!COLLECTD_MEDIA_TYPES.includes(mediaType))
        throw unsupportedMediaType(mediaType, COLLECTD_MEDIA_TYPES);
      const body = requireBody(req.body, "write_http's JSON array of value lists");
      let groups: PointGroup[];
      try {
        groups = collectdToPointGroups(parseJson(body));
      } catch (err) {
        if (err instanceof CollectdFormatError) throw new HttpError(400, "bad_body", err.message);
        throw err;
      }
      return deps.sink.accept(groups, "collectd", writers.get(req)!);
    },
  );
};

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new CollectdFormatError(`body is not JSON: ${(err as Error).message.slice(0, 120)}`);
  }
}
