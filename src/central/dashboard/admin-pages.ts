import { describeScope } from "../auth/principal.js";
import type { DeliveryGroup } from "../delivery/groups.js";
import type { AgentTokenRecord, TokenRole } from "../storage/token-store.js";
import type { ActiveSession, UserRecord, UserRole } from "../storage/user-store.js";
import { html } from "./html.js";
import { csrfField, isoMinute, page } from "./layout.js";

/*
 * The admin pages (tokens, users, groups), from what their routes
 * (src/central/http/dashboard/admin.ts) read and did.
 */

/** What the tokens page says above its form: the action just done, or why it was refused. */
export type TokensFlash =
  | { kind: "created"; role: TokenRole; name: string; token: string }
  | { kind: "revoked"; role: TokenRole; name: string; count: number }
  | { kind: "refused"; message: string };

/** /admin/tokens: the create form and every agent and viewer token. */
export function tokensPage(o: {
  session: ActiveSession;
  agents: readonly AgentTokenRecord[];
  viewers: readonly AgentTokenRecord[];
  flash: TokensFlash | null;
  /** The configured group names a viewer token may be limited to. */
  groups: readonly string[];
  timeZone: string;
}): { value: string } {
  const { session, timeZone: tz } = o;
  const rows = [
    ...o.agents.map((t) => ({ ...t, role: "agent" as const })),
    ...o.viewers.map((t) => ({ ...t, role: "viewer" as const })),
  ].sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : a.createdAt - b.createdAt));
  const body = html`<h1>API tokens</h1>
${o.flash === null ? "" : tokensFlash(o.flash)}
<section aria-labelledby="new-h"><h2 id="new-h">Create a token</h2>
<form method="post" action="/admin/tokens" class="inline-form">${csrfField(session)}
  <div><label for="t-role">Role</label><select id="t-role" name="role"><option value="agent">agent (uploads as one server)</option><option value="viewer">viewer (read API)</option></select></div>
  <div><label for="t-name">Server name (or viewer name)</label><input id="t-name" name="name" required maxlength="253"></div>
  ${groupsField("t-groups", o.groups, "viewer tokens")}
  <div><button type="submit">Create token</button></div>
</form></section>
<h2>Tokens</h2>
<p class="hint">Secrets are stored hashed and shown only once, when created. Times in ${tz}; last use is recorded to the minute, as in <code>srvutil central token list</code>.</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Sees</th><th scope="col">Token id</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col">Action</th></tr></thead>
<tbody>${rows.map(
    (
      t,
    ) => html`<tr><th scope="row">${t.server}</th><td>${t.role}</td><td>${t.role === "viewer" ? describeScope(t.groups) : "–"}</td><td><code>${t.tokenId}</code></td><td>${isoMinute(t.createdAt, tz)}</td><td>${t.lastUsedAt === null ? "never" : isoMinute(t.lastUsedAt, tz)}</td>
<td>${t.revokedAt === null ? "active" : `revoked ${isoMinute(t.revokedAt, tz)}`}</td>
<td>${
      t.revokedAt === null
        ? html`<form method="post" action="/admin/tokens/revoke">${csrfField(session)}<input type="hidden" name="role" value="${t.role}"><input type="hidden" name="name" value="${t.server}"><button type="submit" class="danger">Revoke ${t.role} tokens of ${t.server}</button></form>`
        : ""
    }</td></tr>`,
  )}</tbody></table></div>`;
  return page({ title: "Tokens", session, nav: "tokens", body });
}

function tokensFlash(flash: TokensFlash) {
  switch (flash.kind) {
    case "created":
      return html`<div class="created" role="status"><h2>New ${flash.role} token for ${flash.name}</h2>
<p>Copy it now: it is shown only this once.${flash.role === "agent" ? " Set it as SRVUTIL_AGENT_TOKEN on that server." : ""}</p>
<p><label for="new-token">Token</label> <input id="new-token" class="token" readonly value="${flash.token}" size="80"></p></div>`;
    case "revoked":
      return html`<p class="notice" role="status">Revoked ${flash.count} ${flash.role} token(s) of ${flash.name}.</p>`;
    case "refused":
      return html`<p class="notice" role="alert">${flash.message}</p>`;
  }
}

/** What the users page says above its form: the action just done, or why it was refused. */
export type UsersFlash =
  | { kind: "added"; role: UserRole; name: string }
  | { kind: "removed"; name: string; removed: boolean }
  | { kind: "refused"; message: string };

/** /admin/users: the add form and every dashboard user. */
export function usersPage(o: {
  session: ActiveSession;
  users: readonly UserRecord[];
  flash: UsersFlash | null;
  /** The configured group names a viewer may be limited to. */
  groups: readonly string[];
  timeZone: string;
}): { value: string } {
  const { session, timeZone: tz } = o;
  const body = html`<h1>Dashboard users</h1>
${o.flash === null ? "" : usersFlash(o.flash)}
<section aria-labelledby="nu-h"><h2 id="nu-h">Add a user</h2>
<form method="post" action="/admin/users" class="inline-form">${csrfField(session)}
  <div><label for="u-name">User name</label><input id="u-name" name="name" required maxlength="64" autocomplete="off"></div>
  <div><label for="u-role">Role</label><select id="u-role" name="role"><option value="viewer">viewer</option><option value="admin">admin</option></select></div>
  ${groupsField("u-groups", o.groups, "viewers")}
  <div><label for="u-pass">Password (10 characters or more)</label><input id="u-pass" name="password" type="password" required minlength="10" autocomplete="new-password"></div>
  <div><button type="submit">Add user</button></div>
</form></section>
<h2>Users</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Sees</th><th scope="col">Added</th><th scope="col">Action</th></tr></thead>
<tbody>${o.users.map(
    (
      u,
    ) => html`<tr><th scope="row">${u.name}</th><td>${u.role}</td><td>${describeScope(u.groups)}</td><td>${isoMinute(u.createdAt, tz)}</td>
<td><form method="post" action="/admin/users/remove">${csrfField(session)}<input type="hidden" name="name" value="${u.name}"><button type="submit" class="danger">Remove ${u.name}</button></form></td></tr>`,
  )}</tbody></table></div>
<p class="hint">Removing a user ends its sessions at once. From the command line: <code>srvutil central user add|list|remove</code>.</p>`;
  return page({ title: "Users", session, nav: "users", body });
}

function usersFlash(flash: UsersFlash) {
  switch (flash.kind) {
    case "added":
      return html`<p class="notice" role="status">Added ${flash.role} ${flash.name}.</p>`;
    case "removed":
      return html`<p class="notice" role="status">${flash.removed ? `Removed ${flash.name}; its sessions are ended.` : `No user ${flash.name}.`}</p>`;
    case "refused":
      return html`<p class="notice" role="alert">${flash.message}</p>`;
  }
}

/** The optional "limit to groups" field of the token and user forms: names, comma-separated. */
function groupsField(id: string, groups: readonly string[], who: string) {
  return html`<div><label for="${id}">Limit to groups (${who}; empty: all servers)</label><input id="${id}" name="groups" maxlength="1000" placeholder="${groups.filter((g) => g !== "default").join(",")}" aria-describedby="${id}-hint"><span class="hint" id="${id}-hint">Comma-separated; configured: ${groups.join(", ") || "none"}</span></div>`;
}

/** What a group selects: "the whole fleet", or its name globs and tags (all must match). */
function groupSelection(g: DeliveryGroup): string {
  if (g.wholeFleet) return "the whole fleet";
  const parts: string[] = [];
  if (g.servers.length > 0) parts.push(`names ${g.servers.join(", ")}`);
  const tags = Object.entries(g.tags).map(([k, v]) => `${k}=${v}`);
  if (tags.length > 0) parts.push(`tags ${tags.join(", ")}`);
  return parts.join(" and ");
}

/** /admin/groups: the report groups as configured. */
export function groupsPage(o: { session: ActiveSession; groups: readonly DeliveryGroup[] }): {
  value: string;
} {
  const body = html`<h1>Report groups</h1>
<p class="hint">As configured (SRVUTIL_GROUPS_FILE, or SRVUTIL_REPORT_TO for the default group); read at start-up. See docs/delivery.md.</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Group</th><th scope="col">Servers</th><th scope="col">To</th><th scope="col">Cc</th><th scope="col">Bcc</th></tr></thead>
<tbody>${o.groups.map(
    (g) =>
      html`<tr><th scope="row">${g.name}</th><td>${groupSelection(g)}</td><td>${g.recipients.to.join(", ") || "–"}</td><td>${g.recipients.cc.join(", ") || "–"}</td><td>${g.recipients.bcc.length === 0 ? "–" : `${g.recipients.bcc.length} address(es)`}</td></tr>`,
  )}</tbody></table></div>`;
  return page({ title: "Groups", session: o.session, nav: "groups", body });
}
