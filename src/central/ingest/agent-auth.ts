import type { AgentTokenCache } from "../auth/token-cache.js";
import { authenticate } from "../auth/tokens.js";
import type { Storage } from "../storage/store.js";
import { HttpError } from "./http-error.js";

/**
 * The agent behind a request's bearer token, or the one 401 every agent route
 * answers (with the hint an operator needs to create a token). With `cache`
 * the token may come from memory: the caller's write must then re-check it
 * (IngestFileOptions.agentTokenId).
 */
export async function requireAgentToken(
  store: Storage,
  authorization: string | undefined,
  cache?: AgentTokenCache,
): Promise<{ tokenId: string; name: string }> {
  const auth = await authenticate(store, authorization, "agent", cache);
  if (!auth.ok) throw agentUnauthorized();
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
