import type { Readable } from "node:stream";
import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { errorCode } from "../../../errors.js";
import { parseAgentUserAgent } from "../../../protocol/agent-identity.js";
import { parseTagList, TAGS_HEADER, type Tags } from "../../../protocol/tags.js";
import { AGENT_LATEST_HEADER, AGENT_VERSION_CURRENT } from "../../agent-release.js";
import type { RateLimiter } from "../../auth/rate-limit.js";
import { AgentTokenCache } from "../../auth/token-cache.js";
import type { IngestResult, IngestService } from "../../ingest/ingest-service.js";
import type { ServerInputRecorder } from "../../ingest/server-inputs.js";
import type { AgentTagRecorder } from "../../ingest/tags.js";
import { AgentTokenRevokedError, type Storage } from "../../storage/store.js";
import { agentUnauthorized, requireAgentToken } from "../agent-auth.js";
import {
  contentEncoding,
  gunzipCapped,
  isGzip,
  multipartBodyError,
  readCappedBody,
  tooLarge,
} from "../body.js";
import { HttpError } from "../http-error.js";
import type { IngestMetrics } from "../ingest-metrics.js";
import { errorResponseSchema } from "../schemas.js";

export interface UploadRouteDeps {
  store: Storage;
  ingest: IngestService;
  rateLimiter: RateLimiter;
  metrics: IngestMetrics;
  /** Cap on the body both on the wire and after decompression. */
  maxBodyBytes: number;
  /** Active agent tokens remembered between uploads (default: one per route). */
  tokenCache?: AgentTokenCache;
  /** Failed authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE); absent: unlimited. */
  authFailures?: RateLimiter;
  /** Where each authenticated upload's agent identity and outcome go (store.serverInputs). */
  inputs: ServerInputRecorder;
  /** Where the tags each upload declares (X-Srvutil-Tags) go (store.tags). */
  tags: AgentTagRecorder;
}

/** Content types a metrics upload may use; anything else answers 415. */
export const UPLOAD_CONTENT_TYPES = ["text/csv", "application/octet-stream", "multipart/form-data"] as const;

const uploadResponseSchema = {
  type: "object",
  required: ["upload_id", "rows", "duplicates"],
  properties: {
    upload_id: {
      type: "string",
      description: "Identifier of the stored upload (of the earlier one for a replay)",
    },
    rows: { type: "integer", description: "Data rows in the file" },
    duplicates: { type: "integer", description: "Rows already stored (same server, timestamp, disk_mount)" },
  },
} as const;

/**
 * POST /api/v1/metrics. Authentication and the rate limit run in onRequest,
 * before the body is read, so an unauthenticated client cannot make the
 * server buffer 16 MiB.
 */
export const uploadRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: UploadRouteDeps }> = async (
  app,
  deps,
) => {
  const agentOf = new WeakMap<FastifyRequest, { tokenId: string; name: string }>();
  const tagsOf = new WeakMap<FastifyRequest, Tags>();
  const tokenCache = deps.tokenCache ?? new AgentTokenCache();
  const identityOf = (req: FastifyRequest) => parseAgentUserAgent(req.headers["user-agent"]);

  // Every answer to an authenticated upload: the agent release this central ships (docs/api.md), and a
  // refusal (4xx but 401: the token was revoked meanwhile) recorded as the server's last upload error.
  app.addHook("onSend", async (req, reply, payload) => {
    const agent = agentOf.get(req);
    if (agent === undefined) return payload;
    reply.header(AGENT_LATEST_HEADER, AGENT_VERSION_CURRENT);
    const status = reply.statusCode;
    if (status >= 400 && status < 500 && status !== 401) {
      await deps.inputs.observe({
        server: agent.name,
        input: "agent",
        agent: identityOf(req),
        outcome: refusalOf(payload),
      });
    }
    return payload;
  });

  app.post(
    "/api/v1/metrics",
    {
      schema: {
        summary: "Upload one metrics CSV v1 file",
        description:
          "Body: the CSV as text/csv (or application/octet-stream), optionally with Content-Encoding: gzip, " +
          "or multipart/form-data with the file in field `file`. The file is stored completely or not at all.",
        tags: ["ingest"],
        security: [{ agentToken: [] }],
        response: {
          201: {
            ...uploadResponseSchema,
            description:
              "Stored. Also the answer to a replay of a file already stored (same server, same SHA-256): nothing is written again, upload_id is the earlier one and duplicates = rows",
          },
          400: {
            ...errorResponseSchema,
            description:
              "The file breaks CSV v1: line and column name the problem. Or the X-Srvutil-Tags header is malformed (SRVUTIL_E_BAD_TAGS): nothing was stored",
          },
          401: { ...errorResponseSchema, description: "Missing, unknown or revoked agent token" },
          403: { ...errorResponseSchema, description: "A row names a server other than the token's" },
          413: {
            ...errorResponseSchema,
            description: "Body larger than SRVUTIL_MAX_BODY_BYTES (after decompression)",
          },
          415: {
            ...errorResponseSchema,
            description: "Unsupported Content-Type, charset or Content-Encoding",
          },
          422: {
            ...errorResponseSchema,
            description:
              "A sample is older than the ingest horizon (reason sample_too_old, SRVUTIL_E_SAMPLE_TOO_OLD): hourly rollups are kept SRVUTIL_RETENTION_HOURLY_MONTHS; the message names the horizon. Nothing was stored",
          },
          429: {
            ...errorResponseSchema,
            description:
              "Rate limit of this token exceeded, or too many failed authentications from this address; see Retry-After",
          },
        },
      },
      onRequest: async (req) => {
        const failures =
          deps.authFailures === undefined
            ? undefined
            : { limiter: deps.authFailures, address: req.client.address };
        const auth = await requireAgentToken(deps.store, req.headers.authorization, tokenCache, failures);
        agentOf.set(req, auth);
        const decision = deps.rateLimiter.take(auth.tokenId);
        if (!decision.allowed) {
          throw new HttpError(
            429,
            "rate_limited",
            `too many uploads for this token; retry after ${decision.retryAfterSeconds} s`,
            { "retry-after": String(decision.retryAfterSeconds) },
          );
        }
        // Checked before the body is read: bad tags refuse the whole upload, so nothing is stored.
        tagsOf.set(req, declaredTags(req.headers[TAGS_HEADER]));
        const length = Number(req.headers["content-length"]);
        if (Number.isFinite(length) && length > deps.maxBodyBytes)
          throw tooLarge(deps.maxBodyBytes, "request body");
      },
    },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const agent = agentOf.get(req)!;
      const bytes = req.isMultipart() ? await multipartFile(req, deps.maxBodyBytes) : req.body;
      if (!Buffer.isBuffer(bytes)) {
        throw new HttpError(400, "bad_body", "request body is missing: send the CSV file");
      }
      let result: IngestResult;
      try {
        // The token may have come from the cache: the write checks it is still active.
        result = await deps.ingest.ingestFile(bytes, {
          expectedServer: agent.name,
          agentTokenId: agent.tokenId,
        });
      } catch (err) {
        if (!(err instanceof AgentTokenRevokedError)) throw err;
        tokenCache.forget(agent.tokenId);
        agentOf.delete(req);
        throw agentUnauthorized();
      }
      await deps.inputs.observe({
        server: agent.name,
        input: "agent",
        agent: identityOf(req),
        outcome: "ok",
      });
      await deps.tags.observe(agent.name, tagsOf.get(req) ?? {});
      deps.metrics.uploads.inc({ result: result.replay ? "replay" : "accepted" });
      deps.metrics.rows.inc({ kind: "inserted" }, result.inserted);
      deps.metrics.rows.inc({ kind: "duplicate" }, result.duplicates);
      // A replay answers 201 too: the contract has one success answer, and
      // what a client needs (rows all duplicates, the original id) is in the body.
      return reply.code(201).send({
        upload_id: result.uploadId,
        rows: result.rows,
        duplicates: result.duplicates,
      });
    },
  );
};

/**
 * The X-Srvutil-Tags header (`env=prod,team=payments`, docs/protocol.md):
 * the server's whole agent-declared set. Absent: the agent declares none.
 * Every problem is named in the one 400 answer.
 */
function declaredTags(header: string | string[] | undefined): Tags {
  if (header === undefined) return {};
  const text = Array.isArray(header) ? header.join(",") : header;
  const { tags, problems } = parseTagList(text);
  if (problems.length > 0) {
    throw new HttpError(400, "bad_tags", `${TAGS_HEADER}: ${problems.slice(0, 5).join("; ")}`);
  }
  return tags;
}

/** The code and message of a refusal's JSON body (errorAnswer's shape); another body is an unknown error. */
function refusalOf(payload: unknown): { code: string; message: string } {
  try {
    const body = JSON.parse(String(payload)) as { code?: unknown; error?: unknown };
    if (typeof body.code === "string" && typeof body.error === "string") {
      return { code: body.code, message: body.error };
    }
  } catch {
    // not JSON: fall through
  }
  return { code: errorCode("bad_request"), message: "the upload was refused" };
}

/** The body parser of text/csv and application/octet-stream: capped, gzip-aware. */
export function registerCsvBodyParser(app: FastifyInstance, maxBodyBytes: number): void {
  app.addContentTypeParser(
    ["text/csv", "application/octet-stream"],
    async (req: FastifyRequest, payload: Readable) => {
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers["content-type"] ?? "")?.[1];
      if (charset !== undefined && !/^(utf-?8|us-ascii)$/i.test(charset)) {
        throw new HttpError(
          415,
          "unsupported_charset",
          `charset '${charset.slice(0, 40)}' is not supported: send UTF-8`,
        );
      }
      return readCappedBody(payload, contentEncoding(req.headers["content-encoding"]), maxBodyBytes);
    },
  );
}

async function multipartFile(req: FastifyRequest, maxBodyBytes: number): Promise<Buffer> {
  if (contentEncoding(req.headers["content-encoding"]) !== "identity") {
    throw new HttpError(
      415,
      "unsupported_encoding",
      "Content-Encoding is not supported with multipart/form-data; gzip the file itself instead",
    );
  }
  const part = await req
    .file({ limits: { fileSize: maxBodyBytes, files: 1, fields: 20, parts: 21 } })
    .catch((err: unknown) => {
      throw multipartBodyError(err);
    });
  if (part === undefined) {
    throw new HttpError(
      400,
      "bad_body",
      "multipart body has no file: send it in field 'file' (curl -F file=@x.csv)",
    );
  }
  if (part.fieldname !== "file") {
    part.file.resume();
    throw new HttpError(
      400,
      "bad_body",
      `multipart file is in field '${part.fieldname.slice(0, 40)}': send it in field 'file'`,
    );
  }
  const bytes = await readCappedBody(part.file, "identity", maxBodyBytes);
  if (part.file.truncated) throw tooLarge(maxBodyBytes, "uploaded file");
  // `curl -F file=@x.csv.gz` works too: the gzip magic marks a compressed file.
  return isGzip(bytes) ? gunzipCapped(bytes, maxBodyBytes) : bytes;
}
