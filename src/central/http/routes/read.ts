import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import {
  formatTimestamp,
  type MetricRow,
  parseTimestamp,
  serverNameProblem,
} from "../../../protocol/index.js";
import { AGENT_VERSION_CURRENT, isOutdated } from "../../agent-release.js";
import type { ServerInput } from "../../storage/server-input-store.js";
import { effectiveTags } from "../../storage/tag-store.js";
import { HttpError } from "../http-error.js";
import { errorResponseSchema } from "../schemas.js";
import { type ViewerAuthDeps, viewerOnly, viewerScope } from "../viewer-auth.js";

const DEFAULT_LIMIT = 10_000;
const MAX_LIMIT = 100_000;

const sampleSchema = {
  type: "object",
  properties: {
    timestamp: { type: "string" },
    server: { type: "string" },
    cpu_percent: { type: "number" },
    cpu_peak_percent: { type: ["number", "null"] },
    interval_seconds: { type: ["number", "null"] },
    mem_total_bytes: { type: "integer" },
    mem_used_bytes: { type: "integer" },
    mem_available_bytes: { type: "integer" },
    disk_mount: { type: "string" },
    disk_total_bytes: { type: "integer" },
    disk_used_bytes: { type: "integer" },
    disk_free_bytes: { type: "integer" },
  },
} as const;

const agentSchema = {
  type: "object",
  description:
    "The agent's identity from its User-Agent and its last refused upload; null for a foreign input",
  properties: {
    version: { type: ["string", "null"], description: "null: its User-Agent did not say" },
    platform: { type: ["string", "null"] },
    arch: { type: ["string", "null"] },
    os: { type: ["string", "null"] },
    outdated: { type: "boolean", description: "Its version is below agent_version_current" },
    agent_version_current: { type: "string", description: "The agent release this central ships" },
    last_request: { type: "string", description: "Its last authenticated request (within 5 minutes)" },
    last_error: {
      type: ["object", "null"],
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        at: { type: "string" },
        before_last_success: { type: "boolean", description: "An upload was stored after it" },
      },
    },
  },
} as const;

function agentJson(input: ServerInput) {
  const err = input.lastError;
  return {
    version: input.agentVersion,
    platform: input.platform,
    arch: input.arch,
    os: input.os,
    outdated: isOutdated(input, AGENT_VERSION_CURRENT),
    agent_version_current: AGENT_VERSION_CURRENT,
    last_request: formatTimestamp(input.lastSeenAt),
    last_error:
      err === null
        ? null
        : {
            code: err.code,
            message: err.message,
            at: formatTimestamp(err.at),
            before_last_success: input.lastSuccessAt !== null && input.lastSuccessAt > err.at,
          },
  };
}

/**
 * The read API for dashboards and scripts: GET /api/v1/servers and
 * GET /api/v1/servers/{name}/samples. It takes viewer tokens only (srvv_…,
 * `srvutil central token add --role viewer NAME`): an agent token, which
 * sits on every monitored machine, must not read the whole fleet. A scoped
 * viewer token lists and reads only its groups' servers; another server's
 * samples answer 404, as for a server that never reported.
 */
export type ReadRouteDeps = ViewerAuthDeps;

export const readRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: ReadRouteDeps }> = async (app, deps) => {
  const viewerToken = viewerOnly(deps);

  app.get(
    "/api/v1/servers",
    {
      onRequest: viewerToken,
      schema: {
        summary: "Servers that have sent data",
        tags: ["read"],
        security: [{ viewerToken: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              servers: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    name: { type: "string" },
                    first_seen: { type: "string", description: "Earliest sample timestamp" },
                    last_seen: { type: "string", description: "Latest sample timestamp" },
                    rows: { type: "integer" },
                    input: {
                      type: ["string", "null"],
                      description:
                        "What feeds it: agent, scrape, remote_write, otlp, telegraf or collectd; null: not recorded yet",
                    },
                    agent: { ...agentSchema, type: ["object", "null"] },
                    tags: {
                      type: "object",
                      additionalProperties: { type: "string" },
                      description:
                        "Tags in force, key → value: the central's where it sets one, else the agent's (docs/agent.md)",
                    },
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
      const [servers, inputList, tagRows] = await Promise.all([
        deps.store.listServers(),
        deps.store.serverInputs.list(),
        deps.store.tags.current(),
      ]);
      const inputs = new Map(inputList.map((x) => [x.server, x]));
      const tags = effectiveTags(tagRows);
      return {
        servers: servers
          .filter((s) => scope.sees(s.server))
          .map((s) => {
            const input = inputs.get(s.server) ?? null;
            return {
              name: s.server,
              first_seen: formatTimestamp(s.firstSeen),
              last_seen: formatTimestamp(s.lastSeen),
              rows: s.rows,
              input: input?.input ?? null,
              agent: input === null || input.input !== "agent" ? null : agentJson(input),
              tags: Object.fromEntries([...(tags.get(s.server) ?? [])].map(([k, t]) => [k, t.value])),
            };
          }),
      };
    },
  );

  app.get(
    "/api/v1/servers/:name/samples",
    {
      onRequest: viewerToken,
      schema: {
        summary: "Samples of one server with from <= timestamp < to",
        description:
          "At most `limit` rows, never splitting one timestamp; when more exist, `next_from` is the `from` of the next page.",
        tags: ["read"],
        security: [{ viewerToken: [] }],
        params: {
          type: "object",
          required: ["name"],
          properties: { name: { type: "string", maxLength: 64 } },
        },
        querystring: {
          type: "object",
          required: ["from", "to"],
          properties: {
            from: { type: "string", description: "ISO 8601 with Z or offset, inclusive" },
            to: { type: "string", description: "ISO 8601 with Z or offset, exclusive" },
            limit: { type: "integer", minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
          },
        },
        response: {
          200: {
            type: "object",
            properties: {
              server: { type: "string" },
              from: { type: "string" },
              to: { type: "string" },
              samples: { type: "array", items: sampleSchema },
              next_from: { type: ["string", "null"] },
            },
          },
          400: errorResponseSchema,
          401: errorResponseSchema,
          429: errorResponseSchema,
          404: errorResponseSchema,
        },
      },
    },
    async (req) => {
      const { name } = req.params;
      const q = req.query;
      // The schema's coercion turns `limit=1e400` or `limit=Infinity` into Infinity and lets it
      // through; unchecked, one request would read a server's whole history into one answer.
      if (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > MAX_LIMIT) {
        throw new HttpError(400, "bad_request", `limit must be a whole number from 1 to ${MAX_LIMIT}`);
      }
      const problem = serverNameProblem(name);
      if (problem !== null) throw new HttpError(400, "bad_request", problem);
      const from = parseTimestamp(q.from);
      const to = parseTimestamp(q.to);
      if (from === null)
        throw new HttpError(
          400,
          "bad_request",
          `from: '${q.from.slice(0, 40)}' is not ISO 8601 with Z or an offset`,
        );
      if (to === null)
        throw new HttpError(
          400,
          "bad_request",
          `to: '${q.to.slice(0, 40)}' is not ISO 8601 with Z or an offset`,
        );
      if (to <= from) throw new HttpError(400, "bad_request", "to must be after from");
      // A server outside a scoped token's groups answers as one that never reported: its existence is not told.
      const known =
        viewerScope(req, deps).sees(name) && (await deps.store.listServers()).some((s) => s.server === name);
      if (!known) throw new HttpError(404, "not_found", `no data from server '${name}'`);

      const rows: MetricRow[] = [];
      let nextFrom: string | null = null;
      for await (const row of deps.store.samples({ from, to, servers: [name] })) {
        if (rows.length >= q.limit) {
          // Cut before the timestamp group the next row belongs to, so a page
          // never holds half of one sample's mounts.
          const cut = row.timestamp;
          let keep = rows.length;
          while (keep > 0 && rows[keep - 1]!.timestamp === cut) keep--;
          if (keep > 0) rows.length = keep;
          nextFrom = formatTimestamp(keep > 0 ? cut : row.timestamp);
          break;
        }
        rows.push(row);
      }
      return {
        server: name,
        from: formatTimestamp(from),
        to: formatTimestamp(to),
        samples: rows.map(sampleJson),
        next_from: nextFrom,
      };
    },
  );
};

function sampleJson(r: MetricRow) {
  return {
    timestamp: formatTimestamp(r.timestamp),
    server: r.server,
    cpu_percent: r.cpuPercent,
    cpu_peak_percent: r.cpuPeakPercent,
    interval_seconds: r.intervalSeconds,
    mem_total_bytes: r.memTotalBytes,
    mem_used_bytes: r.memUsedBytes,
    mem_available_bytes: r.memAvailableBytes,
    disk_mount: r.diskMount,
    disk_total_bytes: r.diskTotalBytes,
    disk_used_bytes: r.diskUsedBytes,
    disk_free_bytes: r.diskFreeBytes,
  };
}
