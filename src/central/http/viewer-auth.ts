import type { FastifyRequest } from "fastify";
import type { Tags } from "../../protocol/tags.js";
import { accessScope, type Principal, type ServerScope } from "../auth/principal.js";
import type { RateLimiter } from "../auth/rate-limit.js";
import { authenticate } from "../auth/tokens.js";
import type { DeliveryGroup } from "../delivery/groups.js";
import type { Storage } from "../storage/store.js";
import { tooManyFailures } from "./agent-auth.js";
import { HttpError } from "./http-error.js";

/** What a viewer-only route authenticates with. */
export interface ViewerAuthDeps {
  store: Storage;
  /** The delivery groups (groups file): a scoped viewer token sees their servers only. */
  groups: readonly DeliveryGroup[];
  /** Failed authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE); absent: unlimited. */
  authFailures?: RateLimiter;
  /** A server's effective tags now, for groups that select by tags; absent: none (such groups hold nothing). */
  tagsOf?: (server: string) => Tags;
}

/**
 * The onRequest hook of the routes that take viewer tokens only (the read
 * API, the scrape targets): 401 without a valid srvv_… token, 429 when the
 * client address failed too often. An agent token, which sits on every
 * monitored machine, must not read the whole fleet.
 */
const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * The principal viewerOnly authenticated for this request. A route that
 * calls it without that hook is a programming mistake: it throws (a 500)
 * rather than answer as the whole fleet.
 */
export function viewerPrincipal(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (p === undefined) throw new Error(`no viewer principal for ${req.routeOptions.url}: viewerOnly missing`);
  return p;
}

/** The servers this request's viewer token may see (src/central/auth/principal.ts). */
export function viewerScope(
  req: FastifyRequest,
  deps: Pick<ViewerAuthDeps, "groups" | "tagsOf">,
): ServerScope {
  return accessScope(viewerPrincipal(req), deps.groups, deps.tagsOf);
}

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
    principals.set(req, { role: "viewer", groups: auth.groups ?? null });
  };
}
