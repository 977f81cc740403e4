import { InputError } from "../errors.js";
import type { Tags } from "../protocol/tags.js";
import { DEFAULT_GROUP, type DeliveryGroup, NO_TAGS } from "./delivery/groups.js";
import type { AutoUpdateSetting } from "./storage/agent-update-store.js";
import type { Storage } from "./storage/store.js";
import { effectiveTags, tagValues } from "./storage/tag-store.js";

/**
 * Whether an agent updates itself (docs/agent.md, "Self-update"): the
 * stored policy (store.agentUpdates) read against the groups of the groups
 * file. For one server: its groups' explicit settings decide, and when they
 * disagree, off wins (an update is the riskier change); with no explicit
 * group setting, the fleet's; with no fleet setting, SRVUTIL_AGENT_AUTO_UPDATE.
 * Groups are asked only through DeliveryGroup.includes, whatever selects
 * their servers.
 */
export interface AutoUpdatePolicy {
  /** The stored fleet setting; null: unset (the environment's default applies). */
  fleet: AutoUpdateSetting | null;
  /** SRVUTIL_AGENT_AUTO_UPDATE, the fleet's default. */
  envDefault: boolean;
  /** The groups that can carry a setting (the groups file's, without the whole-fleet "default"). */
  groups: readonly DeliveryGroup[];
  /** The stored setting of each group, by name (rows of groups no longer in the file are kept but unused). */
  byGroup: ReadonlyMap<string, AutoUpdateSetting>;
  /** The servers' effective tags now (store.tags), for groups that select by tags. */
  tags: ReadonlyMap<string, Tags>;
}

/** Whether `group` holds `server` now, by its name and its current tags. */
export function inGroup(p: AutoUpdatePolicy, group: DeliveryGroup, server: string): boolean {
  return group.includes(server, p.tags.get(server) ?? NO_TAGS);
}

/** The effective tags now of one server, or of every server, as buildPolicy takes them. */
export async function currentTagValues(store: Storage, server?: string): Promise<Map<string, Tags>> {
  return tagValues(effectiveTags(await store.tags.current(server)));
}

export interface AutoUpdateDecision {
  enabled: boolean;
  /** Why, in words, for the CLI and the dashboard. */
  because: string;
}

/** The groups a setting can name: "default" is the whole fleet, set by the fleet setting. */
export function policyGroups(groups: readonly DeliveryGroup[]): DeliveryGroup[] {
  return groups.filter((g) => g.name !== DEFAULT_GROUP);
}

export function buildPolicy(
  settings: readonly AutoUpdateSetting[],
  groups: readonly DeliveryGroup[],
  envDefault: boolean,
  tags: ReadonlyMap<string, Tags> = new Map(),
): AutoUpdatePolicy {
  const fleet = settings.find((s) => s.group === null && s.enabled !== null) ?? null;
  const byGroup = new Map<string, AutoUpdateSetting>();
  for (const s of settings) if (s.group !== null) byGroup.set(s.group, s);
  return { fleet, envDefault, groups: policyGroups(groups), byGroup, tags };
}

/** The fleet's own decision: its stored setting, else the environment's. */
export function fleetEnabled(p: AutoUpdatePolicy): boolean {
  return p.fleet?.enabled ?? p.envDefault;
}

/** The explicit setting of a group, or null when it has none. */
export function groupSetting(p: AutoUpdatePolicy, group: string): boolean | null {
  return p.byGroup.get(group)?.enabled ?? null;
}

export function decideFor(p: AutoUpdatePolicy, server: string): AutoUpdateDecision {
  const explicit = p.groups
    .filter((g) => groupSetting(p, g.name) !== null && inGroup(p, g, server))
    .map((g) => ({ name: g.name, on: groupSetting(p, g.name) === true }));
  if (explicit.length > 0) {
    const off = explicit.filter((g) => !g.on);
    return off.length > 0
      ? { enabled: false, because: `group ${off.map((g) => g.name).join(", ")} is off` }
      : { enabled: true, because: `group ${explicit.map((g) => g.name).join(", ")} is on` };
  }
  return { enabled: fleetEnabled(p), because: fleetBecause(p) };
}

/**
 * For a manifest request that names no server (an agent from before the
 * per-server manifest, install.sh): on only when every server would be, that
 * is the fleet is on and no group is off. So an unbound manifest never says
 * more than a bound one, and replaying it gains nothing.
 */
export function decideUnbound(p: AutoUpdatePolicy): AutoUpdateDecision {
  const off = p.groups.filter((g) => groupSetting(p, g.name) === false).map((g) => g.name);
  if (off.length > 0) return { enabled: false, because: `group ${off.join(", ")} is off` };
  return { enabled: fleetEnabled(p), because: fleetBecause(p) };
}

function fleetBecause(p: AutoUpdatePolicy): string {
  return p.fleet === null
    ? `fleet default (SRVUTIL_AGENT_AUTO_UPDATE=${p.envDefault ? "on" : "off"})`
    : `fleet is ${p.fleet.enabled ? "on" : "off"}`;
}

/**
 * Reads the policy afresh on each call: a change on one instance applies on
 * every instance at once. For a manifest request it holds the tags of the
 * asking server only (none for an unbound request, which decideUnbound
 * answers without tags), not every server's: agents ask on a timer.
 */
export function policyReader(
  store: Storage,
  groups: readonly DeliveryGroup[],
  envDefault: boolean,
): (server: string | null) => Promise<AutoUpdatePolicy> {
  return async (server) => {
    const [settings, tags] = await Promise.all([
      store.agentUpdates.list(),
      server === null ? new Map<string, Tags>() : currentTagValues(store, server),
    ]);
    return buildPolicy(settings, groups, envDefault, tags);
  };
}

export type AutoUpdateValue = "on" | "off" | "default";

/** Stores one change (dashboard, CLI); a group must be one of the groups file's. */
export async function changeAutoUpdate(
  store: Storage,
  groups: readonly DeliveryGroup[],
  change: { group: string | null; value: AutoUpdateValue; by: string; at: number },
): Promise<void> {
  if (change.group !== null && !policyGroups(groups).some((g) => g.name === change.group)) {
    const names = policyGroups(groups).map((g) => g.name);
    throw new InputError(
      `no group '${change.group.slice(0, 64)}' in the groups file (SRVUTIL_GROUPS_FILE)${
        names.length === 0 ? ": it defines none" : `: the groups are ${names.join(", ")}`
      }`,
    );
  }
  await store.agentUpdates.set({
    group: change.group,
    enabled: change.value === "default" ? null : change.value === "on",
    changedBy: change.by,
    changedAt: change.at,
  });
}
