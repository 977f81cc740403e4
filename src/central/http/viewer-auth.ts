import type { FastifyRequest } from "fastify";
import type { RateLimiter } from "../auth/rate-limit.js";
import { authenticate } from "../auth/tokens.js";
import type { Storage } from "../storage/store.js";
import { tooManyFailures } from "./agent-auth.js";
import { HttpError } from "./http-error.js";

/** What a viewer-only route authenticates with. */
export interface ViewerAuthDeps {
  store: Storage;
  /** Failed authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE); absent: unlimited. */
  authFailures?: RateLimiter;
}

/**
 * The onRequest hook of the routes that take viewer tokens only (the read
 * API, the scrape targets): 401 without a valid srvv_… token, 429 when the
 * client address failed too often. An agent token, which sits on every
 * monitored machine, must not read the whole fleet.
 */
export function viewerOnly(deps: ViewerAuthDeps) {
  return async (req: FastifyRequest): Promise<void> => {
    const failures =
      deps.authFailures === undefined
        ? undefined
        : { limiter: deps.authFailures, address: req.client.address };
    const auth = await authenticate(deps.store, req.headers.authorization, "viewer", undefined, failures);
    if (!auth.ok && auth.reason === "throttled") throw tooManyFailures(auth);
    if (!auth.ok) {
      throw new HttpError(
        401,
        "unauthorized",
        "a valid viewer token is required: Authorization: Bearer srvv_… (create one with `srvutil central token add --role viewer NAME`)",
        { "www-authenticate": 'Bearer realm="srvutil"' },
      );
    }
  };
}
