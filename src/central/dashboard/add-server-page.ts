import type { EnrolmentLogEntry, EnrolmentTokenRecord } from "../storage/enrolment-store.js";
import { enrolmentState } from "../storage/enrolment-store.js";
import type { ActiveSession } from "../storage/user-store.js";
import { type Html, html } from "./html.js";
import { csrfField, isoMinute, page } from "./layout.js";

/*
 * /admin/add-server (routes: src/central/http/dashboard/add-server.ts): create
 * an enrolment token, then the one command per platform that installs an
 * agent with it; the enrolment tokens (never their secrets) and the last
 * enrolments. docs/dashboard.md, docs/enrol.md.
 */

/** The base URL the commands name, and where it came from. */
export interface CentralBase {
  /** Null: no usable origin (a Host header that is not host[:port]), or a SRVUTIL_PUBLIC_URL no command can carry. */
  url: string | null;
  /** From SRVUTIL_PUBLIC_URL (else from the request's origin). */
  configured: boolean;
}

/** The pasted commands for a token: install.sh for Linux and macOS, install.ps1 for Windows (as each documents). */
export function installCommands(baseUrl: string, token: string): { unix: string; windows: string } {
  return {
    unix: `curl -fsSL ${baseUrl}/install.sh | sudo sh -s -- --enrol ${token}`,
    windows: `& ([scriptblock]::Create((irm ${baseUrl}/install.ps1))) -Enrol ${token}`,
  };
}

/** The form as typed, given back with a refusal. */
export interface EnrolmentDraft {
  servers: string;
  uses: string;
  expires: string;
  allowReenrol: boolean;
  tags: string;
}

export const EMPTY_DRAFT: EnrolmentDraft = {
  servers: "",
  uses: "1",
  expires: "24h",
  allowReenrol: false,
  tags: "",
};

export type AddServerFlash =
  | { kind: "created"; token: string; record: EnrolmentTokenRecord }
  | { kind: "revoked"; tokenId: string; done: boolean }
  | { kind: "refused"; message: string };

export interface AddServerPageData {
  session: ActiveSession;
  tokens: readonly EnrolmentTokenRecord[];
  enrolments: readonly EnrolmentLogEntry[];
  base: CentralBase;
  /** Platforms the central has no agent file for (null: not known here). */
  missingAgents: readonly string[] | null;
  flash: AddServerFlash | null;
  draft: EnrolmentDraft;
  now: number;
  timeZone: string;
}

export function addServerPage(o: AddServerPageData): { value: string } {
  const { session, timeZone: tz, now } = o;
  const d = o.draft;
  const body = html`<h1>Add a server</h1>
<p class="hint">Create an enrolment token, then paste the command it gives on the new server (it runs the
installer with sudo; on Windows, paste it into a PowerShell run as administrator). The server enrols itself under its host name, which must match the token's
servers, and appears on the <a href="/">fleet</a> after its first upload.</p>
${baseNotice(o.base)}
${o.missingAgents !== null && o.missingAgents.length > 0 ? html`<p class="notice" role="note">This central has no agent to hand out for ${o.missingAgents.join(", ")}: those servers' installs will fail until its operator runs <code>npm run build:agent-bin &amp;&amp; npm run build:agent</code> in its checkout (or <code>srvutil central install --build-agents</code>).</p>` : ""}
${o.flash === null ? "" : flash(o.flash, o.base, tz)}
<section aria-labelledby="ne-h"><h2 id="ne-h">Create an enrolment token</h2>
<form method="post" action="/admin/add-server" class="inline-form">${csrfField(session)}
  <div><label for="e-servers">Servers (name glob, such as web-* or *)</label><input id="e-servers" name="servers" required maxlength="253" value="${d.servers}" autocomplete="off"></div>
  <div><label for="e-uses">Uses (servers it may enrol)</label><input id="e-uses" name="uses" required inputmode="numeric" size="6" value="${d.uses}"></div>
  <div><label for="e-expires">Expires after (30m, 24h, 7d)</label><input id="e-expires" name="expires" required size="6" value="${d.expires}"></div>
  <div><label for="e-tags">Tags (optional: key=value, comma-separated)</label><input id="e-tags" name="tags" maxlength="2000" value="${d.tags}" autocomplete="off"></div>
  <div><label><input type="checkbox" name="allow_reenrol" value="yes"${d.allowReenrol ? html` checked` : ""}> May re-enrol a name that has a token (replaces it)</label></div>
  <div><button type="submit">Create token</button></div>
</form>
<p class="hint">Without "re-enrol", a name that already has an agent token is refused, so a stolen enrolment token cannot stand in for a server that exists. Tags are stored with the token for the tags feature, which does not read them yet.</p></section>
<section aria-labelledby="ag-h"><h2 id="ag-h">Air-gapped sites</h2>
<p>A server that cannot reach this central's downloads takes the manual path (docs/quickstart.md, "Air-gapped sites"):
download its executable here (<a href="/agent/manifest.json">the list, with SHA-256</a>), copy it over,
create an agent token for it on the <a href="/admin/tokens">Tokens</a> page, put the token in a file there and run
<code>srvutil-agent install</code> with <code>SRVUTIL_CENTRAL_URL</code> and <code>SRVUTIL_AGENT_TOKEN_FILE</code> set.</p></section>
<h2>Enrolment tokens</h2>
<p class="hint">Secrets are stored hashed and shown only once, when created. Revoking a token does not touch the agent tokens of the servers it enrolled. Times in ${tz}.</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Token id</th><th scope="col">Servers</th><th scope="col">Uses</th><th scope="col">Expires</th><th scope="col">Re-enrol</th><th scope="col">Tags</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Action</th></tr></thead>
<tbody>${o.tokens.map((t) => tokenRow(t, session, now, tz))}</tbody></table></div>
${o.tokens.length === 0 ? html`<p class="hint">None yet.</p>` : ""}
<h2>Recent enrolments</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Server</th><th scope="col">Enrolled</th><th scope="col">Enrolment token</th><th scope="col">From address</th><th scope="col">Agent token id</th></tr></thead>
<tbody>${o.enrolments.map(
    (e) =>
      html`<tr><th scope="row"><a href="/servers/${encodeURIComponent(e.server)}">${e.server}</a></th><td>${isoMinute(e.enrolledAt, tz)}</td><td><code>${e.tokenId}</code></td><td>${e.address}</td><td><code>${e.agentTokenId}</code></td></tr>`,
  )}</tbody></table></div>
${o.enrolments.length === 0 ? html`<p class="hint">No server has enrolled yet.</p>` : ""}`;
  return page({ title: "Add server", session, nav: "add-server", body, script: true });
}

function baseNotice(base: CentralBase): Html | string {
  if (base.url === null) {
    return base.configured
      ? html`<p class="notice" role="note">SRVUTIL_PUBLIC_URL has characters a command cannot carry safely (only letters, digits and <code>. - _ ~ /</code> after the host), so no command is shown: the token works with <code>srvutil-agent install --enrol</code>.</p>`
      : html`<p class="notice" role="note">SRVUTIL_PUBLIC_URL is not set and this request's Host is not a usable address, so no command can name this central: set SRVUTIL_PUBLIC_URL to the URL servers reach it at.</p>`;
  }
  const plain = base.url.startsWith("http://") && !/^http:\/\/(localhost|127\.|\[::1\])/.test(base.url);
  return html`${
    base.configured
      ? ""
      : html`<p class="notice" role="note">SRVUTIL_PUBLIC_URL is not set: the commands use the address this page was opened at, <code>${base.url}</code>. If servers reach the central at another URL, set SRVUTIL_PUBLIC_URL to it.</p>`
  }${
    plain
      ? html`<p class="notice" role="note">The commands use plain http://, which the install scripts refuse for a central that is not on the server itself (anyone on the way could swap the executable): serve the central over https:// and set SRVUTIL_PUBLIC_URL to that URL.</p>`
      : ""
  }`;
}

function flash(f: AddServerFlash, base: CentralBase, tz: string): Html {
  switch (f.kind) {
    case "created": {
      const r = f.record;
      const commands = base.url === null ? null : installCommands(base.url, f.token);
      return html`<div class="created" role="status"><h2>Enrolment token ${r.tokenId} for servers ${r.servers}</h2>
<p>It enrols ${r.maxUses === 1 ? "one server" : `up to ${r.maxUses} servers`} until ${isoMinute(r.expiresAt, tz)} (${tz})${r.allowReenrol ? ", and may re-enrol names that have a token" : ""}.
Copy the command now: the token is shown only this once.</p>
${
  commands === null
    ? ""
    : html`${command("cmd-unix", "Linux and macOS", commands.unix)}
${command("cmd-windows", "Windows (PowerShell, Run as administrator)", commands.windows)}`
}
<p><label for="cmd-token">The token alone (for <code>srvutil-agent install --enrol</code>)</label></p>
<div class="command"><input id="cmd-token" class="token" readonly value="${f.token}" size="80"><button type="button" class="copy" data-copy="cmd-token" hidden>Copy</button></div>
<p class="copied" role="status" aria-live="polite"></p></div>`;
    }
    case "revoked":
      return html`<p class="notice" role="status">${f.done ? `Revoked enrolment token ${f.tokenId}: it enrols no server any more.` : `No active enrolment token ${f.tokenId}.`}</p>`;
    case "refused":
      return html`<p class="notice" role="alert">${f.message}</p>`;
  }
}

function command(id: string, label: string, text: string): Html {
  return html`<h3 id="${id}-h">${label}</h3>
<div class="command"><pre aria-labelledby="${id}-h"><code id="${id}">${text}</code></pre><button type="button" class="copy" data-copy="${id}" hidden>Copy</button></div>`;
}

function tokenRow(t: EnrolmentTokenRecord, session: ActiveSession, now: number, tz: string): Html {
  const state = enrolmentState(t, now);
  const tags = Object.entries(t.tags).map(([k, v]) => `${k}=${v}`);
  return html`<tr><td><code>${t.tokenId}</code></td><th scope="row">${t.servers}</th><td class="num">${t.uses} of ${t.maxUses}</td><td>${isoMinute(t.expiresAt, tz)}</td><td>${t.allowReenrol ? "yes" : "no"}</td><td>${tags.length === 0 ? "–" : tags.join(", ")}</td><td>${isoMinute(t.createdAt, tz)} by ${t.createdBy}</td>
<td>${t.revokedAt === null ? state : `revoked ${isoMinute(t.revokedAt, tz)}`}</td>
<td>${
    state === "active"
      ? html`<form method="post" action="/admin/add-server/revoke">${csrfField(session)}<input type="hidden" name="id" value="${t.tokenId}"><button type="submit" class="danger">Revoke ${t.tokenId}</button></form>`
      : ""
  }</td></tr>`;
}
