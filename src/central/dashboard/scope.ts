import type { Tags } from "../../protocol/tags.js";
import { isOutdated } from "../agent-release.js";
import { accessScope, type Principal, type ServerScope } from "../auth/principal.js";
import type { DeliveryGroup } from "../delivery/groups.js";
import type { ServerStatus } from "../model/report.js";
import type { AgentTokenRecord } from "../storage/token-store.js";
import type { FleetData } from "./fleet-data.js";

/*
 * The dashboard's side of scoped viewers: what a page reads is cut down to
 * the principal's servers and groups (src/central/auth/principal.ts) before
 * it is rendered, so no page has to remember to hide rows itself.
 */

/** The scope of a session (or any principal) over the dashboard's groups. */
export function scopeOf(
  principal: Principal,
  ctx: { groups: readonly DeliveryGroup[]; tagsOf: (server: string) => Tags },
): ServerScope {
  return accessScope(principal, ctx.groups, ctx.tagsOf);
}

/**
 * The fleet as a scoped viewer sees it: its servers only, with the counts
 * ("N servers", each status, "N outdated") and the newest report's findings
 * counted over them, and no other group's name on a row.
 */
export function scopeFleet(data: FleetData, scope: ServerScope): FleetData {
  if (scope.whole) return data;
  const rows = data.rows
    .filter((r) => scope.sees(r.server))
    .map((r) => ({ ...r, groups: r.groups.filter((g) => scope.seesGroup(g)) }));
  const counts: Record<ServerStatus, number> = { ok: 0, warning: 0, critical: 0, silent: 0 };
  for (const r of rows) counts[r.status]++;
  return {
    ...data,
    rows,
    counts,
    outdated: rows.filter((r) => isOutdated(r.input, data.agentVersionCurrent)).length,
    needsAction: data.needsAction.filter((r) => scope.sees(r.server)),
    changes: data.changes.filter((c) => scope.sees(c.server)),
  };
}

/** The groups a scope may see, in the file's order (filters, report tabs). */
export function visibleGroups(groups: readonly DeliveryGroup[], scope: ServerScope): DeliveryGroup[] {
  return groups.filter((g) => scope.seesGroup(g.name));
}

/** Rows keyed by report group (archived reports, deliveries): the scope's groups only. */
export function ofVisibleGroups<T extends { group: string }>(rows: readonly T[], scope: ServerScope): T[] {
  return scope.whole ? [...rows] : rows.filter((r) => scope.seesGroup(r.group));
}

/** A stored token's scope as the tokens page shows it. */
export const tokenScope = (t: Pick<AgentTokenRecord, "groups">): readonly string[] | null => t.groups ?? null;
