import { userInfo } from "node:os";
import { isOutdated } from "../central/agent-release.js";
import {
  type AutoUpdateValue,
  buildPolicy,
  changeAutoUpdate,
  currentTagValues,
  decideFor,
  fleetEnabled,
  groupSetting,
  inGroup,
} from "../central/agent-update-policy.js";
import { AutomationLog } from "../central/automation-log.js";
import { loadDeliveryGroups } from "../central/delivery/groups.js";
import { usageError } from "../errors.js";
import { formatTable, withStore } from "./central-run.js";

/**
 * What `srvutil central agents auto-update …` runs (wiring: ./central.ts,
 * which loads this module only when it runs). The same policy and the same
 * change as the dashboard's /admin/agent-updates. docs/agent.md.
 */
export async function autoUpdateCommand(value: string | undefined, opts: { group?: string }): Promise<void> {
  if (value !== undefined && value !== "on" && value !== "off" && value !== "default") {
    throw usageError(`expected on, off or default, got '${value.slice(0, 40)}'`);
  }
  if (value === undefined && opts.group !== undefined) {
    throw usageError("--group needs a setting: on, off or default");
  }
  await withStore(async (store, config) => {
    const groups = loadDeliveryGroups(config.delivery.groupsFile, config.reportTo);
    if (value !== undefined) {
      const setting: AutoUpdateValue = value;
      const by = `cli:${cliUser()}`;
      await changeAutoUpdate(store, groups, {
        group: opts.group ?? null,
        value: setting,
        by,
        at: Date.now(),
      });
      new AutomationLog(config.paths.automationLog, config.logRotation).info("agent auto-update changed", {
        scope: opts.group === undefined ? "fleet" : `group ${opts.group}`,
        to: setting,
        by,
      });
      process.stdout.write(
        `Auto-update of ${opts.group === undefined ? "the fleet" : `group ${opts.group}`} set to ${setting}.\n`,
      );
    }
    const policy = buildPolicy(
      await store.agentUpdates.list(),
      groups,
      config.agentUpdates.autoUpdate,
      await currentTagValues(store),
    );
    const agents = (await store.serverInputs.list()).filter((i) => i.input === "agent");
    const counts = (inScope: (server: string) => boolean) => {
      const held = agents.filter((a) => inScope(a.server));
      return [String(held.length), String(held.filter((a) => isOutdated(a)).length)];
    };
    const word = (v: boolean | null) => (v === null ? "default" : v ? "on" : "off");
    const changed = (s: { changedBy: string; changedAt: number } | undefined | null) =>
      s == null ? "-" : `${new Date(s.changedAt).toISOString().slice(0, 16)}Z ${s.changedBy}`;
    const rows = [["SCOPE", "SETTING", "NOW", "AGENTS", "OUTDATED", "CHANGED"]];
    rows.push([
      "fleet",
      policy.fleet === null
        ? `default (SRVUTIL_AGENT_AUTO_UPDATE=${policy.envDefault ? "on" : "off"})`
        : word(policy.fleet.enabled),
      fleetEnabled(policy) ? "on" : "off",
      ...counts(() => true),
      changed(policy.fleet),
    ]);
    for (const g of policy.groups) {
      const own = groupSetting(policy, g.name);
      rows.push([
        `group ${g.name}`,
        word(own),
        (own ?? fleetEnabled(policy)) ? "on" : "off",
        ...counts((s) => inGroup(policy, g, s)),
        changed(policy.byGroup.get(g.name)),
      ]);
    }
    process.stdout.write(formatTable(rows));
    const off = agents.filter((a) => !decideFor(policy, a.server).enabled).length;
    process.stdout.write(
      `${agents.length - off} of ${agents.length} agent${agents.length === 1 ? "" : "s"} update themselves; ` +
        "a server in several groups with disagreeing settings does not (off wins).\n",
    );
  });
}

function cliUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
