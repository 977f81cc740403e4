import { serverNameProblem } from "../../protocol/index.js";
import { MAX_TAGS, tagsProblems } from "../../protocol/tags.js";
import { newAgentToken, relayAllows, secretMatches } from "../auth/tokens.js";
import type { Storage } from "../storage/store.js";
import { parseEnrolmentToken } from "./tokens.js";

/** Why an enrolment is refused: each has its own answer (../http/routes/enrol.ts). */
export type EnrolRefusal =
  | { reason: "bad_name"; problem: string }
  | { reason: "unknown" }
  | {
      reason: "revoked" | "expired" | "used_up" | "outside_glob" | "enrolled";
      tokenId: string;
      servers: string;
    };

export type EnrolResult =
  | {
      ok: true;
      server: string;
      agentToken: string;
      agentTokenId: string;
      tokenId: string;
      replaced: number;
      /** Why (some of) the enrolment token's tags were not set as the server's central tags; null: all set (or none). */
      tagsError: string | null;
    }
  | ({ ok: false } & EnrolRefusal);

/**
 * Enrols `server` with the enrolment token `token` presented from `address`:
 * on success the server's new agent token (shown once), else why not, with
 * nothing stored. The checks that cannot change (format, secret, glob) come
 * first; the state (revoked, expired, uses, name already enrolled) is
 * checked again inside the store's one transaction that spends the use and
 * creates the agent token (EnrolmentStore.redeem), so parallel enrolments
 * cannot overspend a token.
 */
export async function enrolServer(
  store: Storage,
  request: { token: string; server: string; address: string },
  now = Date.now(),
): Promise<EnrolResult> {
  const parsed = parseEnrolmentToken(request.token);
  const record = parsed === null ? null : await store.enrolments.find(parsed.tokenId);
  // An unknown id and a wrong secret get the same answer, before any state:
  // whoever lacks the secret learns nothing about the token.
  if (parsed === null || record === null || !secretMatches(parsed.secret, record.secretHash)) {
    return { ok: false, reason: "unknown" };
  }
  const problem = serverNameProblem(request.server);
  if (problem !== null) return { ok: false, reason: "bad_name", problem };
  const about = { tokenId: record.tokenId, servers: record.servers };
  if (!relayAllows(record.servers, request.server)) return { ok: false, reason: "outside_glob", ...about };
  const agent = newAgentToken(request.server);
  const outcome = await store.enrolments.redeem({
    tokenId: record.tokenId,
    server: request.server,
    address: request.address,
    now,
    agentToken: agent.record,
  });
  if (!outcome.ok) {
    if (outcome.reason === "unknown") return { ok: false, reason: "unknown" };
    return { ok: false, reason: outcome.reason, ...about };
  }
  return {
    ok: true,
    server: request.server,
    agentToken: agent.token,
    agentTokenId: agent.record.tokenId,
    tokenId: record.tokenId,
    replaced: outcome.replaced,
    tagsError: await setEnrolmentTags(store, request.server, record.tags, now),
  };
}

/**
 * The enrolment token's tags (`enrol create --tag`) become the new server's
 * central tags, which win over what its agent declares. After the agent
 * token exists: a failure here is reported (and logged by the route), not
 * answered as a refused enrolment the agent could not retry. A tag the
 * token keeps that is not spelled like a server tag (its values may hold
 * anything) is left out, and named in the report.
 */
async function setEnrolmentTags(
  store: Storage,
  server: string,
  tags: Readonly<Record<string, string>>,
  now: number,
): Promise<string | null> {
  const entries = Object.entries(tags);
  const valid = entries.filter(([k, v]) => tagsProblems([[k, v]]).length === 0).slice(0, MAX_TAGS);
  const skipped = entries.length - valid.length;
  const note = skipped === 0 ? null : `${skipped} tag(s) not spelled like server tags left out`;
  if (valid.length === 0) return note;
  try {
    await store.tags.edit(server, { set: Object.fromEntries(valid), unset: [] }, now);
    return note;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
