import { authenticate } from "../auth/tokens.js";
import type { Storage } from "../storage/store.js";
import { HttpError } from "./http-error.js";

/**
 * The agent behind a request's bearer token, or the one 401 every agent route
 * answers (with the hint an operator needs to create a token).
 */
export async function requireAgentToken(
  store: Storage,
  authorization: string | undefined,
): Promise<{ tokenId: string; name: string }> {
  const auth = await authenticate(store, authorization, "agent");
  if (!auth.ok) {
    throw new HttpError(
      401,
      "unauthorized",
      "a valid agent token is required: Authorization: Bearer srvu_… (create one with `srvutil central token add SERVER`)",
      { "www-authenticate": 'Bearer realm="srvutil"' },
    );
  }
  return auth;
}
