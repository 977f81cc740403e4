import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { RateLimiter } from "../../auth/rate-limit.js";
import type { AutomationLog } from "../../automation-log.js";
import { type EnrolRefusal, enrolServer } from "../../enrol/enrol.js";
import type { Storage } from "../../storage/store.js";
import { tooManyFailures } from "../agent-auth.js";
import { HttpError } from "../http-error.js";
import { errorResponseSchema } from "../schemas.js";

export interface EnrolRouteDeps {
  store: Storage;
  /** Failed authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE); absent: unlimited. */
  authFailures?: RateLimiter;
  log?: AutomationLog | null;
}

const enrolBodySchema = {
  type: "object",
  required: ["server"],
  additionalProperties: false,
  properties: {
    server: {
      type: "string",
      maxLength: 300,
      description: "The name this server uploads as (the rule of agent names: docs/protocol.md)",
    },
  },
} as const;

const enrolAnswerSchema = {
  type: "object",
  required: ["server", "token", "token_id", "replaced"],
  additionalProperties: false,
  properties: {
    server: { type: "string", description: "The server enrolled" },
    token: { type: "string", description: "Its own agent token (srvu_…), shown only in this answer" },
    token_id: { type: "string", description: "The agent token's public id (`central token list`)" },
    replaced: {
      type: "integer",
      description: "Active agent tokens of the name that were revoked (re-enrolment; 0 otherwise)",
    },
  },
} as const;

/** The answer to each refusal: a stable code and a message that says what to do. */
function refusal(r: EnrolRefusal, server: string): HttpError {
  switch (r.reason) {
    case "bad_name":
      return new HttpError(400, "bad_request", `server name '${server.slice(0, 100)}': ${r.problem}`);
    case "unknown":
      return new HttpError(
        401,
        "enrol_token_unknown",
        "unknown enrolment token: expected Authorization: Bearer srve_… as printed by `srvutil central enrol create`",
        { "www-authenticate": 'Bearer realm="srvutil"' },
      );
    case "revoked":
      return new HttpError(403, "enrol_token_revoked", `enrolment token ${r.tokenId} is revoked`);
    case "expired":
      return new HttpError(
        403,
        "enrol_token_expired",
        `enrolment token ${r.tokenId} has expired: create a new one with \`srvutil central enrol create\``,
      );
    case "used_up":
      return new HttpError(
        403,
        "enrol_token_used_up",
        `enrolment token ${r.tokenId} has no use left: create a new one with \`srvutil central enrol create --uses N\``,
      );
    case "outside_glob":
      return new HttpError(
        403,
        "enrol_name_not_allowed",
        `enrolment token ${r.tokenId} enrols servers '${r.servers}' only, not '${server}'`,
      );
    case "enrolled":
      return new HttpError(
        409,
        "already_enrolled",
        `server '${server}' is enrolled already (it has an active agent token): an enrolment token ` +
          "created with --allow-reenrol may replace it, or revoke its token first (`srvutil central token revoke`)",
      );
  }
}

/**
 * POST /api/v1/enrol: a new server presents an enrolment token (as its
 * bearer token) and the name it uploads as, and receives its own agent token
 * once (docs/enrol.md). Every refusal stores nothing and spends one of the
 * client address's failed-authentication allowance, as a wrong API token
 * does; a success gives it back. The automation log records each enrolment
 * and refusal, never a secret.
 */
export const enrolRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: EnrolRouteDeps }> = async (
  app,
  deps,
) => {
  // The app parses only CSV and multipart; this plugin (and only it) reads a small JSON body.
  app.addContentTypeParser("application/json", { parseAs: "string", bodyLimit: 4096 }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch {
      done(new HttpError(400, "bad_body", 'the body must be JSON: {"server": "<name>"}'), undefined);
    }
  });
  app.post(
    "/api/v1/enrol",
    {
      schema: {
        summary: "Enrol a new server: trade an enrolment token for its own agent token",
        description:
          "For `agent install --enrol`. Authorization: Bearer srve_… (an enrolment token). Answers the agent token once.",
        tags: ["ingest"],
        security: [{ enrolmentToken: [] }],
        body: enrolBodySchema,
        response: {
          201: { ...enrolAnswerSchema, description: "Enrolled: the server's agent token" },
          400: { ...errorResponseSchema, description: "Not a valid server name, or a malformed body" },
          401: { ...errorResponseSchema, description: "No enrolment token, or an unknown one" },
          403: {
            ...errorResponseSchema,
            description:
              "The enrolment token is revoked, expired or used up, or its glob does not allow the name",
          },
          409: {
            ...errorResponseSchema,
            description: "The name is enrolled already and the token may not replace it",
          },
          429: {
            ...errorResponseSchema,
            description: "Too many failed authentications from this address; see Retry-After",
          },
        },
      },
    },
    async (req, reply) => {
      const address = req.client.address;
      // Spent before anything is looked up and given back on success, as
      // authenticate() does, so parallel guesses cannot all pass.
      const allowance = deps.authFailures?.take(address) ?? { allowed: true as const };
      if (!allowance.allowed) throw tooManyFailures({ ok: false, reason: "throttled", ...allowance });
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
      const server = req.body.server;
      const result = await enrolServer(deps.store, { token: m?.[1] ?? "", server, address });
      if (!result.ok) {
        deps.log?.warn("enrolment refused", {
          server: server.slice(0, 100),
          reason: result.reason,
          address,
          ...("tokenId" in result ? { enrolmentTokenId: result.tokenId } : {}),
        });
        throw refusal(result, server);
      }
      deps.authFailures?.refund(address);
      if (result.tagsError !== null) {
        deps.log?.warn("enrolment tags not set", { server: result.server, error: result.tagsError });
      }
      deps.log?.info("server enrolled", {
        server: result.server,
        enrolmentTokenId: result.tokenId,
        agentTokenId: result.agentTokenId,
        address,
        replaced: result.replaced,
      });
      return reply.code(201).send({
        server: result.server,
        token: result.agentToken,
        token_id: result.agentTokenId,
        replaced: result.replaced,
      });
    },
  );
};
