import type { FastifyInstance, FastifyReply } from "fastify";
import { SrvutilError } from "../../errors.js";
import { serverNameProblem } from "../../protocol/index.js";
import { createAgentToken, createViewerToken } from "../auth/tokens.js";
import type { ActiveSession } from "../storage/user-store.js";
import { type DashboardContext, formField, requireAction, requireRole, sendPage } from "./context.js";
import { type Html, html } from "./html.js";
import { csrfField, isoMinute, page } from "./layout.js";
import { USER_NAME } from "./password.js";
import { addUser } from "./users.js";

export function registerAdminPages(app: FastifyInstance, ctx: DashboardContext): void {
  const tz = ctx.timeZone;

  const tokensPage = async (
    reply: FastifyReply,
    session: ActiveSession,
    flash: Html | null,
    status = 200,
  ) => {
    const [agents, viewers] = await Promise.all([
      ctx.store.tokens.list("agent"),
      ctx.store.tokens.list("viewer"),
    ]);
    const rows = [
      ...agents.map((t) => ({ ...t, role: "agent" as const })),
      ...viewers.map((t) => ({ ...t, role: "viewer" as const })),
    ].sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : a.createdAt - b.createdAt));
    const body = html`<h1>API tokens</h1>
${flash ?? ""}
<section aria-labelledby="new-h"><h2 id="new-h">Create a token</h2>
<form method="post" action="/admin/tokens" class="inline-form">${csrfField(session)}
  <div><label for="t-role">Role</label><select id="t-role" name="role"><option value="agent">agent (uploads as one server)</option><option value="viewer">viewer (read API)</option></select></div>
  <div><label for="t-name">Server name (or viewer name)</label><input id="t-name" name="name" required maxlength="253"></div>
  <div><button type="submit">Create token</button></div>
</form></section>
<h2>Tokens</h2>
<p class="hint">Secrets are stored hashed and shown only once, when created. Times in ${tz}; last use is recorded to the minute, as in <code>srvutil central token list</code>.</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Token id</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col">Action</th></tr></thead>
<tbody>${rows.map(
      (
        t,
      ) => html`<tr><th scope="row">${t.server}</th><td>${t.role}</td><td><code>${t.tokenId}</code></td><td>${isoMinute(t.createdAt, tz)}</td><td>${t.lastUsedAt === null ? "never" : isoMinute(t.lastUsedAt, tz)}</td>
<td>${t.revokedAt === null ? "active" : `revoked ${isoMinute(t.revokedAt, tz)}`}</td>
<td>${
        t.revokedAt === null
          ? html`<form method="post" action="/admin/tokens/revoke">${csrfField(session)}<input type="hidden" name="role" value="${t.role}"><input type="hidden" name="name" value="${t.server}"><button type="submit" class="danger">Revoke ${t.role} tokens of ${t.server}</button></form>`
          : ""
      }</td></tr>`,
    )}</tbody></table></div>`;
    return sendPage(reply, page({ title: "Tokens", session, nav: "tokens", body }), status);
  };

  app.get("/admin/tokens", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return tokensPage(reply, session, null);
  });

  app.post("/admin/tokens", async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin");
    if (session === null) return reply;
    const role = formField(req, "role") === "viewer" ? "viewer" : "agent";
    const name = formField(req, "name").trim();
    try {
      const token =
        role === "agent" ? await createAgentToken(ctx.store, name) : await createViewerToken(ctx.store, name);
      ctx.log?.info("token created", { role, name, by: session.user });
      const flash = html`<div class="created" role="status"><h2>New ${role} token for ${name}</h2>
<p>Copy it now: it is shown only this once.${role === "agent" ? " Set it as SRVUTIL_AGENT_TOKEN on that server." : ""}</p>
<p><label for="new-token">Token</label> <input id="new-token" class="token" readonly value="${token}" size="80"></p></div>`;
      return tokensPage(reply, session, flash, 201);
    } catch (err) {
      if (!(err instanceof SrvutilError)) throw err;
      return tokensPage(reply, session, html`<p class="notice" role="alert">${err.message}</p>`, 400);
    }
  });

  app.post("/admin/tokens/revoke", async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin");
    if (session === null) return reply;
    const name = formField(req, "name");
    const role = formField(req, "role") === "viewer" ? "viewer" : "agent";
    const now = ctx.clock();
    // Tokens are only ever made for valid names: others are not looked up (a NUL made PostgreSQL answer 500).
    const n = serverNameProblem(name) !== null ? 0 : await ctx.store.tokens.revokeAll(role, name, now);
    ctx.log?.info("token revoked", { role, name, count: n, by: session.user });
    return tokensPage(
      reply,
      session,
      html`<p class="notice" role="status">Revoked ${n} ${role} token(s) of ${name}.</p>`,
    );
  });

  const usersPage = async (reply: FastifyReply, session: ActiveSession, flash: Html | null, status = 200) => {
    const users = await ctx.store.users.listUsers();
    const body = html`<h1>Dashboard users</h1>
${flash ?? ""}
<section aria-labelledby="nu-h"><h2 id="nu-h">Add a user</h2>
<form method="post" action="/admin/users" class="inline-form">${csrfField(session)}
  <div><label for="u-name">User name</label><input id="u-name" name="name" required maxlength="64" autocomplete="off"></div>
  <div><label for="u-role">Role</label><select id="u-role" name="role"><option value="viewer">viewer</option><option value="admin">admin</option></select></div>
  <div><label for="u-pass">Password (10 characters or more)</label><input id="u-pass" name="password" type="password" required minlength="10" autocomplete="new-password"></div>
  <div><button type="submit">Add user</button></div>
</form></section>
<h2>Users</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Added</th><th scope="col">Action</th></tr></thead>
<tbody>${users.map(
      (u) => html`<tr><th scope="row">${u.name}</th><td>${u.role}</td><td>${isoMinute(u.createdAt, tz)}</td>
<td><form method="post" action="/admin/users/remove">${csrfField(session)}<input type="hidden" name="name" value="${u.name}"><button type="submit" class="danger">Remove ${u.name}</button></form></td></tr>`,
    )}</tbody></table></div>
<p class="hint">Removing a user ends its sessions at once. From the command line: <code>srvutil central user add|list|remove</code>.</p>`;
    return sendPage(reply, page({ title: "Users", session, nav: "users", body }), status);
  };

  app.get("/admin/users", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return usersPage(reply, session, null);
  });

  app.post("/admin/users", async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin");
    if (session === null) return reply;
    const name = formField(req, "name").trim();
    const role = formField(req, "role") === "admin" ? "admin" : "viewer";
    try {
      await addUser(ctx.store.users, { name, role, password: formField(req, "password"), now: ctx.clock() });
      ctx.log?.info("user added", { name, role, by: session.user });
      return usersPage(reply, session, html`<p class="notice" role="status">Added ${role} ${name}.</p>`, 201);
    } catch (err) {
      if (!(err instanceof SrvutilError)) throw err;
      return usersPage(reply, session, html`<p class="notice" role="alert">${err.message}</p>`, 400);
    }
  });

  app.post("/admin/users/remove", async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin");
    if (session === null) return reply;
    const name = formField(req, "name");
    // Users are only ever added under valid names: others are not looked up (a NUL made PostgreSQL answer 500).
    const removed = USER_NAME.test(name) && (await ctx.store.users.removeUser(name));
    if (removed) ctx.log?.info("user removed", { name, by: session.user });
    if (name === session.user) return reply.redirect("/login", 303);
    return usersPage(
      reply,
      session,
      html`<p class="notice" role="status">${removed ? `Removed ${name}; its sessions are ended.` : `No user ${name}.`}</p>`,
    );
  });

  app.get("/admin/groups", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    const body = html`<h1>Report groups</h1>
<p class="hint">As configured (SRVUTIL_GROUPS_FILE, or SRVUTIL_REPORT_TO for the default group); read at start-up. See docs/delivery.md.</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Group</th><th scope="col">Servers</th><th scope="col">To</th><th scope="col">Cc</th><th scope="col">Bcc</th></tr></thead>
<tbody>${ctx.groups.map(
      (g) =>
        html`<tr><th scope="row">${g.name}</th><td>${g.servers.length === 0 ? "the whole fleet" : g.servers.join(", ")}</td><td>${g.recipients.to.join(", ") || "–"}</td><td>${g.recipients.cc.join(", ") || "–"}</td><td>${g.recipients.bcc.length === 0 ? "–" : `${g.recipients.bcc.length} address(es)`}</td></tr>`,
    )}</tbody></table></div>`;
    return sendPage(reply, page({ title: "Groups", session, nav: "groups", body }));
  });
}
