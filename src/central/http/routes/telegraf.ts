import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyRequest } from "fastify";
import type { InteropWriter, PointGroup } from "../../ingest/interop/point-group.js";
import {
  parseTelegrafBody,
  TelegrafFormatError,
  telegrafToPointGroups,
} from "../../ingest/interop/telegraf.js";
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

/** Telegraf's outputs.http sends text/plain unless its headers say otherwise. */
const TELEGRAF_MEDIA_TYPES = ["text/plain", "application/json"];

/**
 * POST /api/v1/telegraf: Telegraf's outputs.http with data_format = "json"
 * (the batch format), gzip or not. Telegraf retries every answer that is not
 * 2xx unless `non_retryable_statuscodes` lists it: the sample config lists
 * 400 and 413, the answers retrying cannot fix.
 */
export const telegrafRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: InteropRouteDeps }> = async (
  app,
  deps,
) => {
  const writers = new WeakMap<FastifyRequest, InteropWriter>();
  registerPushBodyParser(app, TELEGRAF_MEDIA_TYPES, deps.maxBodyBytes);
  app.setErrorHandler(pushErrorHandler(TELEGRAF_MEDIA_TYPES));

  app.post(
    "/api/v1/telegraf",
    {
      schema: {
        summary: "Telegraf outputs.http, data_format json",
        description:
          'Body: the JSON serializer\'s batch {"metrics": [...]} (text/plain or application/json, optionally gzip), ' +
          "timestamps in seconds. Reads cpu (cpu-total), mem and disk; the server is the tag " +
          "SRVUTIL_TELEGRAF_SERVER_TAG (default host). See docs/integrations.md.",
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
          415: {
            ...errorResponseSchema,
            description: "Not text/plain or JSON, or an unsupported Content-Encoding",
          },
        },
      },
      onRequest: pushAuthentication(deps, writers),
    },
    async (req) => {
      const mediaType = mediaTypeOf(req);
      if (!TELEGRAF_MEDIA_TYPES.includes(mediaType))
        throw unsupportedMediaType(mediaType, TELEGRAF_MEDIA_TYPES);
      const body = requireBody(req.body, 'Telegraf\'s JSON batch {"metrics": [...]}');
      let groups: PointGroup[];
      try {
        groups = telegrafToPointGroups(
          parseTelegrafBody(body.toString("utf8")),
          deps.labels.telegrafServerTag,
        );
      } catch (err) {
        if (err instanceof TelegrafFormatError) throw new HttpError(400, "bad_body", err.message);
        throw err;
      }
      return deps.sink.accept(groups, "telegraf", writers.get(req)!);
    },
  );
};
