import type { FastifyReply } from "fastify";
import { InputError, SrvutilError } from "../../../errors.js";
import { serverNameProblem } from "../../../protocol/index.js";
import { describeScope, parseScopeGroups } from "../../auth/principal.js";
import { createAgentToken, createViewerToken } from "../../auth/tokens.js";
import {
  groupsPage,
  type TokensFlash,
  tokensPage,
  type UsersFlash,
  usersPage,
} from "../../dashboard/admin-pages.js";
import {
  type DashboardContext,
  formField,
  requireAction,
  requireRole,
  sendPage,
} from "../../dashboard/context.js";
import { USER_NAME } from "../../dashboard/password.js";
import { addUser } from "../../dashboard/users.js";
import type { ActiveSession } from "../../storage/user-store.js";
import { type DashboardApp, tokenForm, userForm } from "./schemas.js";

/** The admin pages: /admin/tokens (create, revoke), /admin/users (add, remove), /admin/groups. */
export function registerAdminRoutes(app: DashboardApp, ctx: DashboardContext): void {
  const sendTokens = async (
    reply: FastifyReply,
    session: ActiveSession,
    flash: TokensFlash | null,
    status = 200,
  ) => {
    const [agents, viewers] = await Promise.all([
      ctx.store.tokens.list("agent"),
      ctx.store.tokens.list("viewer"),
    ]);
    const groups = ctx.groups.map((g) => g.name);
    return sendPage(
      reply,
      tokensPage({ session, agents, viewers, flash, groups, timeZone: ctx.timeZone }),
      status,
    );
  };

  app.get("/admin/tokens", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return sendTokens(reply, session, null);
  });

  app.post("/admin/tokens", { schema: { body: tokenForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const role = formField(req.body, "role") === "viewer" ? "viewer" : "agent";
    const name = formField(req.body, "name").trim();
    const groupsText = formField(req.body, "groups");
    try {
      if (role === "agent" && groupsText.trim() !== "") {
        throw new InputError("groups limit viewer tokens only: an agent token uploads as its one server");
      }
      const groups = parseScopeGroups(groupsText, "viewer", ctx.groups);
      const token =
        role === "agent"
          ? await createAgentToken(ctx.store, name)
          : await createViewerToken(ctx.store, name, groups);
      ctx.log?.info("token created", { role, name, scope: describeScope(groups), by: session.user });
      return sendTokens(reply, session, { kind: "created", role, name, token }, 201);
    } catch (err) {
      if (!(err instanceof SrvutilError)) throw err;
      return sendTokens(reply, session, { kind: "refused", message: err.message }, 400);
    }
  });

  app.post("/admin/tokens/revoke", { schema: { body: tokenForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const name = formField(req.body, "name");
    const role = formField(req.body, "role") === "viewer" ? "viewer" : "agent";
    const now = ctx.clock();
    // Tokens are only ever made for valid names: others are not looked up (a NUL made PostgreSQL answer 500).
    const n = serverNameProblem(name) !== null ? 0 : await ctx.store.tokens.revokeAll(role, name, now);
    ctx.log?.info("token revoked", { role, name, count: n, by: session.user });
    return sendTokens(reply, session, { kind: "revoked", role, name, count: n });
  });

  const sendUsers = async (
    reply: FastifyReply,
    session: ActiveSession,
    flash: UsersFlash | null,
    status = 200,
  ) => {
    const users = await ctx.store.users.listUsers();
    const groups = ctx.groups.map((g) => g.name);
    return sendPage(reply, usersPage({ session, users, flash, groups, timeZone: ctx.timeZone }), status);
  };

  app.get("/admin/users", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return sendUsers(reply, session, null);
  });

  app.post("/admin/users", { schema: { body: userForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const name = formField(req.body, "name").trim();
    const role = formField(req.body, "role") === "admin" ? "admin" : "viewer";
    try {
      const groups = parseScopeGroups(formField(req.body, "groups"), role, ctx.groups);
      await addUser(ctx.store.users, {
        name,
        role,
        groups,
        password: formField(req.body, "password"),
        now: ctx.clock(),
      });
      ctx.log?.info("user added", { name, role, scope: describeScope(groups), by: session.user });
      return sendUsers(reply, session, { kind: "added", role, name }, 201);
    } catch (err) {
      if (!(err instanceof SrvutilError)) throw err;
      return sendUsers(reply, session, { kind: "refused", message: err.message }, 400);
    }
  });

  app.post("/admin/users/remove", { schema: { body: userForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const name = formField(req.body, "name");
    // Users are only ever added under valid names: others are not looked up (a NUL made PostgreSQL answer 500).
    const removed = USER_NAME.test(name) && (await ctx.store.users.removeUser(name));
    if (removed) ctx.log?.info("user removed", { name, by: session.user });
    if (name === session.user) return reply.redirect("/login", 303);
    return sendUsers(reply, session, { kind: "removed", name, removed });
  });

  app.get("/admin/groups", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return sendPage(reply, groupsPage({ session, groups: ctx.groups }));
  });
}
