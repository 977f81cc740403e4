import { InputError } from "../../errors.js";
import type { Tags } from "../../protocol/tags.js";
import { type DeliveryGroup, GROUP_NAME, NO_TAGS } from "../delivery/groups.js";

/**
 * Who is asking, as every way in produces it: a dashboard session
 * (src/central/dashboard/sessions.ts), a viewer token (./tokens.ts), and
 * any future sign-in that maps an identity to a role. Access decisions take
 * this and nothing else, so a new way in only has to produce one.
 */
export interface Principal {
  role: "admin" | "viewer";
  /**
   * A scoped viewer: the delivery groups (groups file) whose servers it may
   * see. null: unscoped, the whole fleet (admins are always unscoped).
   */
  groups: readonly string[] | null;
}

/** Which servers a principal may see; what every page, download and API answer filters by. */
export interface ServerScope {
  /** True for an admin or an unscoped viewer. */
  readonly whole: boolean;
  /** The groups named in the scope (null when whole): reports and deliveries of other groups are hidden. */
  readonly groups: ReadonlySet<string> | null;
  sees(server: string): boolean;
  /** Whether a group's report, deliveries and recipients are visible. */
  seesGroup(group: string): boolean;
}

const WHOLE: ServerScope = { whole: true, groups: null, sees: () => true, seesGroup: () => true };

/**
 * The one access-scope function: given the principal and the loaded groups,
 * which servers are visible. A scoped viewer sees the union of its groups'
 * servers. A group named in the scope that the groups file no longer has
 * matches nothing: removing a group from the file narrows access, never
 * widens it.
 */
export function accessScope(
  principal: Principal,
  groups: readonly DeliveryGroup[],
  /**
   * A server's effective tags now, for groups that select by tags (central
   * serve: the current tags, read every minute). Absent: no server carries
   * a tag, so a tag-selecting group shows nothing: access narrows, never widens.
   */
  tagsOf: (server: string) => Tags = () => NO_TAGS,
): ServerScope {
  if (principal.role === "admin" || principal.groups === null) return WHOLE;
  const names = new Set(principal.groups);
  const mine = groups.filter((g) => names.has(g.name));
  return {
    whole: false,
    groups: names,
    sees: (server) => mine.some((g) => g.includes(server, tagsOf(server))),
    seesGroup: (group) => names.has(group),
  };
}

/**
 * `A,B` (the CLI's --groups, the admin forms' field) as group names, each
 * checked against the groups file: an unknown name is refused at creation
 * rather than stored as a scope that sees nothing. "" or undefined: unscoped.
 */
export function parseScopeGroups(
  text: string | undefined,
  role: Principal["role"],
  groups: readonly DeliveryGroup[],
): string[] | null {
  const names = [
    ...new Set(
      (text ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    ),
  ];
  if (names.length === 0) return null;
  if (role !== "viewer") {
    throw new InputError("groups limit viewers only: an admin always sees the whole fleet");
  }
  const known = new Set(groups.map((g) => g.name));
  const unknown = names.filter((n) => !GROUP_NAME.test(n) || !known.has(n));
  if (unknown.length > 0) {
    const have = [...known].join(", ") || "none";
    throw new InputError(
      `unknown group${unknown.length === 1 ? "" : "s"} ${unknown.map((n) => `'${n.slice(0, 64)}'`).join(", ")}: the groups file (SRVUTIL_GROUPS_FILE) has ${have}`,
    );
  }
  return names;
}

/** Stored form of a scope (both backends): comma-joined names, NULL for unscoped. Group names have no comma. */
export const scopeToColumn = (groups: readonly string[] | null | undefined): string | null =>
  groups == null ? null : groups.join(",");

export const scopeFromColumn = (value: string | null | undefined): string[] | null =>
  value == null ? null : value.split(",").filter((s) => s !== "");

/** "all servers" or "groups A, B": how lists and logs name a scope. */
export const describeScope = (groups: readonly string[] | null | undefined): string =>
  groups == null ? "all servers" : `groups ${groups.join(", ")}`;

/**
 * Whether a scoped principal may see a silence: one of its groups, one of
 * its servers by exact name, or one that names no server or group (a rule
 * silenced fleet-wide). A server glob is hidden from scoped viewers: `db-*`
 * would say which names exist outside their groups.
 */
export function silenceVisible(
  scope: ServerScope,
  silence: { server: string | null; group: string | null },
): boolean {
  if (scope.whole) return true;
  if (silence.group !== null) return scope.seesGroup(silence.group);
  if (silence.server !== null) return !/[*?]/.test(silence.server) && scope.sees(silence.server);
  return true;
}
