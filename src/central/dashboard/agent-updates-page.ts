import { isOutdated } from "../agent-release.js";
import {
  type AutoUpdatePolicy,
  type AutoUpdateValue,
  fleetEnabled,
  groupSetting,
  inGroup,
} from "../agent-update-policy.js";
import type { AutoUpdateSetting } from "../storage/agent-update-store.js";
import type { ServerInput } from "../storage/server-input-store.js";
import type { ActiveSession } from "../storage/user-store.js";
import { type Html, html } from "./html.js";
import { csrfField, isoMinute, page } from "./layout.js";

/*
 * /admin/agent-updates (routes: src/central/http/dashboard/agent-updates.ts):
 * whether agents update themselves, for the fleet and per group, with how
 * many agents each group holds and how many are behind. Group names come
 * from the groups file, agent releases from agents: all escaped by `html`.
 * docs/agent.md, "Self-update".
 */

export interface AgentUpdatesPageData {
  session: ActiveSession;
  policy: AutoUpdatePolicy;
  /** store.serverInputs: the agents are its rows of input "agent". */
  inputs: readonly ServerInput[];
  current: string;
  flash: { kind: "saved"; changed: number } | { kind: "refused"; message: string } | null;
  timeZone: string;
}

/** The form field of a group's setting (group names are letters, digits, . _ -). */
export const groupField = (name: string): string => `group:${name}`;

export function agentUpdatesPage(o: AgentUpdatesPageData): { value: string } {
  const { session, policy: p, timeZone: tz } = o;
  const agents = o.inputs.filter((i) => i.input === "agent");
  const count = (inGroup: (server: string) => boolean) => {
    const held = agents.filter((a) => inGroup(a.server));
    return { agents: held.length, outdated: held.filter((a) => isOutdated(a, o.current)).length };
  };
  const fleet = count(() => true);
  const body = html`<h1>Agent updates</h1>
<p class="hint">An agent behind ${o.current}, the release this central ships, downloads it from here, checks its signature and swaps itself when its setting is on.
A group's own setting overrides the fleet's for its servers; a server in several groups whose settings disagree does not update (off wins).
Unset, the fleet follows SRVUTIL_AGENT_AUTO_UPDATE (now ${p.envDefault ? "on" : "off"}), and a group follows the fleet.
From the command line: <code>srvutil central agents auto-update</code>.</p>
${flash(o.flash)}
<form method="post" action="/admin/agent-updates">${csrfField(session)}
<div class="table-wrap"><table>
<thead><tr><th scope="col">Scope</th><th scope="col">Setting</th><th scope="col">Now</th><th scope="col">Agents</th><th scope="col">Outdated</th><th scope="col">Changed</th></tr></thead>
<tbody>
<tr><th scope="row">Fleet</th><td>${choice("fleet", "Fleet", p.fleet?.enabled ?? null, "SRVUTIL_AGENT_AUTO_UPDATE")}</td><td>${fleetEnabled(p) ? "on" : "off"}</td><td>${fleet.agents}</td><td>${fleet.outdated}</td><td>${changed(p.fleet, tz)}</td></tr>
${p.groups.map((g) => {
  const c = count((s) => inGroup(p, g, s));
  const own = groupSetting(p, g.name);
  return html`<tr><th scope="row">${g.name}</th><td>${choice(groupField(g.name), `Group ${g.name}`, own, "the fleet")}</td><td>${(own ?? fleetEnabled(p)) ? "on" : "off"}</td><td>${c.agents}</td><td>${c.outdated}</td><td>${changed(p.byGroup.get(g.name) ?? null, tz)}</td></tr>`;
})}
</tbody></table></div>
<p><button type="submit">Save</button></p>
</form>
${p.groups.length === 0 ? html`<p class="hint">The groups file (SRVUTIL_GROUPS_FILE) defines no group: only the fleet setting applies.</p>` : ""}
<p class="hint">Times in ${tz}. Agents: servers whose last input was the agent (the fleet page's count); "Now" is the group's own setting or the fleet's, before off-wins between groups.</p>`;
  return page({ title: "Agent updates", session, nav: "agent-updates", body });
}

function choice(field: string, label: string, value: boolean | null, unsetLabel: string): Html {
  const option = (v: AutoUpdateValue, text: string) =>
    html`<option value="${v}"${(v === "default" ? null : v === "on") === value ? html` selected` : ""}>${text}</option>`;
  return html`<select name="${field}" aria-label="${label}">${option("default", `default (${unsetLabel})`)}${option("on", "on")}${option("off", "off")}</select>`;
}

function changed(s: AutoUpdateSetting | null, tz: string): Html | string {
  return s === null ? "–" : html`${isoMinute(s.changedAt, tz)} by ${s.changedBy}`;
}

function flash(f: AgentUpdatesPageData["flash"]): Html | string {
  if (f === null) return "";
  return f.kind === "saved"
    ? html`<p class="notice" role="status">${f.changed === 0 ? "Nothing changed." : `Saved ${f.changed} change${f.changed === 1 ? "" : "s"}.`}</p>`
    : html`<p class="notice" role="alert">${f.message}</p>`;
}
