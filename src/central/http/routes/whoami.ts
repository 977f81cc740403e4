import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import { parseAgentUserAgent } from "../../../protocol/agent-identity.js";
import { AGENT_VERSION_CURRENT } from "../../agent-release.js";
import type { RateLimiter } from "../../auth/rate-limit.js";
import type { ServerInputRecorder } from "../../ingest/server-inputs.js";
import type { Storage } from "../../storage/store.js";
import { requireAgentToken } from "../agent-auth.js";
import { errorResponseSchema } from "../schemas.js";

const whoamiResponseSchema = {
  type: "object",
  required: ["server", "agent_version_current"],
  properties: {
    server: {
      type: "string",
      description:
        "The server name the token belongs to: every row the agent uploads must carry exactly this name",
    },
    agent_version_current: {
      type: "string",
      description: "The agent release this central ships (an agent below it is counted as outdated)",
    },
  },
} as const;

/**
 * GET /api/v1/agent/whoami: which server an agent token belongs to. `agent
 * install` calls it before activating anything, so a wrong URL, a revoked
 * token or a server-name mismatch (sgcs-it-04 vs SGCS-IT-04) is reported at
 * install time instead of as 401/403 in the service's log. Reads nothing but
 * the token record; records the agent's identity from its User-Agent
 * (store.serverInputs), and answers the agent release this central ships.
 */
export interface WhoamiRouteDeps {
  store: Storage;
  /** Failed authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE); absent: unlimited. */
  authFailures?: RateLimiter;
  /** Where the agent's identity goes (store.serverInputs). */
  inputs: ServerInputRecorder;
}

export const whoamiRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: WhoamiRouteDeps }> = async (
  app,
  deps,
) => {
  app.get(
    "/api/v1/agent/whoami",
    {
      schema: {
        summary: "The server an agent token belongs to",
        description: "For `agent install`: checks the token and tells the server name uploads must use.",
        tags: ["ingest"],
        security: [{ agentToken: [] }],
        response: {
          200: { ...whoamiResponseSchema, description: "The token is valid" },
          401: { ...errorResponseSchema, description: "Missing, unknown or revoked agent token" },
          429: {
            ...errorResponseSchema,
            description: "Too many failed authentications from this address; see Retry-After",
          },
        },
      },
    },
    async (req) => {
      const failures =
        deps.authFailures === undefined
          ? undefined
          : { limiter: deps.authFailures, address: req.client.address };
      const auth = await requireAgentToken(deps.store, req.headers.authorization, undefined, failures);
      await deps.inputs.observe({
        server: auth.name,
        input: "agent",
        agent: parseAgentUserAgent(req.headers["user-agent"]),
        outcome: null,
      });
      return { server: auth.name, agent_version_current: AGENT_VERSION_CURRENT };
    },
  );
};
