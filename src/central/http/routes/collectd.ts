import { CollectdFormatError, collectdToPointGroups } from "../../ingest/interop/collectd.js";
import { pushResultSchema, pushRoute } from "../push.js";

/**
 * POST /api/v1/collectd: collectd's write_http plugin with Format "JSON"
 * (StoreRates false). collectd does not retry a refused body; it logs the
 * status, so every refusal says what was wrong.
 */
export const collectdRoute = pushRoute({
  path: "/api/v1/collectd",
  mediaTypes: ["application/json"],
  summary: "collectd write_http, Format JSON",
  description:
    "Body: the JSON array of value lists write_http sends (application/json, optionally gzip). Reads the " +
    "cpu, memory and df plugins; the server is each value list's host. See docs/integrations.md.",
  body: "write_http's JSON array of value lists",
  ok: { ...pushResultSchema, description: "Stored (or already stored: a replay changes nothing)" },
  badRequest: "Malformed body, or no instant had every family (missing_families); nothing stored",
  badMediaType: "Not JSON, or an unsupported Content-Encoding",
  formatError: CollectdFormatError,
  decode: (body) => collectdToPointGroups(parseJson(body)),
  answer: (groups, push, deps) => deps.sink.accept(groups, "collectd", push.writer),
});

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new CollectdFormatError(`body is not JSON: ${(err as Error).message.slice(0, 120)}`);
  }
}
