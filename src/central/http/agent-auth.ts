import type { AgentTokenCache } from "../auth/token-cache.js";
import { type Authentication, authenticate, type FailedAuthLimit } from "../auth/tokens.js";
import type { Storage } from "../storage/store.js";
import { HttpError } from "./http-error.js";

/**
 * The agent behind a request's bearer token, or the one 401 every agent route
 * answers (with the hint an operator needs to create a token), or 429 when
 * the client address has failed too often. With `cache` the token may come
 * from memory: the caller's write must then re-check it
 * (IngestFileOptions.agentTokenId).
 */
export async function requireAgentToken(
  store: Storage,
  authorization: string | undefined,
  cache?: AgentTokenCache,
  failures?: FailedAuthLimit,
): Promise<{ tokenId: string; name: string }> {
  const auth = await authenticate(store, authorization, "agent", cache, failures);
  if (!auth.ok) throw auth.reason === "throttled" ? tooManyFailures(auth) : agentUnauthorized();
  return auth;
}

/** The 401 of every agent route. */
export function agentUnauthorized(): HttpError {
  return new HttpError(
    401,
    "unauthorized",
    "a valid agent token is required: Authorization: Bearer srvu_… (create one with `srvutil central token add SERVER`)",
    { "www-authenticate": 'Bearer realm="srvutil"' },
  );
}

/** The 429 of a client address that failed to authenticate too often (SRVUTIL_AUTH_FAILURES_PER_MINUTE). */
export function tooManyFailures(auth: Extract<Authentication, { reason: "throttled" }>): HttpError {
  return new HttpError(
    429,
    "auth_throttled",
    `too many failed authentications from this address; retry after ${auth.retryAfterSeconds} s`,
    { "retry-after": String(auth.retryAfterSeconds) },
  );
}
