import {
  parseTelegrafBody,
  TelegrafFormatError,
  telegrafToPointGroups,
} from "../../ingest/interop/telegraf.js";
import { pushResultSchema, pushRoute } from "../push.js";

/**
 * POST /api/v1/telegraf: Telegraf's outputs.http with data_format = "json"
 * (the batch format), gzip or not. Telegraf retries every answer that is not
 * 2xx unless `non_retryable_statuscodes` lists it: the sample config lists
 * 400 and 413, the answers retrying cannot fix.
 */
export const telegrafRoute = pushRoute({
  path: "/api/v1/telegraf",
  // Telegraf's outputs.http sends text/plain unless its headers say otherwise.
  mediaTypes: ["text/plain", "application/json"],
  summary: "Telegraf outputs.http, data_format json",
  description:
    'Body: the JSON serializer\'s batch {"metrics": [...]} (text/plain or application/json, optionally gzip), ' +
    "timestamps in seconds. Reads cpu (cpu-total), mem and disk; the server is the tag " +
    "SRVUTIL_TELEGRAF_SERVER_TAG (default host). See docs/integrations.md.",
  body: 'Telegraf\'s JSON batch {"metrics": [...]}',
  ok: { ...pushResultSchema, description: "Stored (or already stored: a replay changes nothing)" },
  badRequest: "Malformed body, or no instant had every family (missing_families); nothing stored",
  badMediaType: "Not text/plain or JSON, or an unsupported Content-Encoding",
  formatError: TelegrafFormatError,
  decode: (body, _mediaType, deps) =>
    telegrafToPointGroups(parseTelegrafBody(body.toString("utf8")), deps.labels.telegrafServerTag),
  answer: (groups, push, deps) => deps.sink.accept(groups, "telegraf", push.writer),
});
