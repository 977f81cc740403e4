import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";

/**
 * The dashboard's routes as the type provider types them: req.params,
 * req.query and req.body follow each route's `as const` JSON schema.
 */
export type DashboardApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  JsonSchemaToTsProvider
>;

/*
 * The schemas describe what the pages read; they refuse nothing. Every
 * dashboard route is registered with attachValidation (plugin.ts), so a value
 * they do not describe (a repeated query parameter arrives as an array, a post
 * may have no form) still reaches the handler, whose readers (parseRange,
 * parseFleetQuery, safeNext, formField) treat a non-string as absent and answer
 * with the dashboard's own page. Hence: no required property, no
 * additionalProperties: false, no pattern or format.
 */

const text = { type: "string" } as const;

export const serverParams = {
  type: "object",
  properties: { name: text },
  required: ["name"],
} as const;

/** parseRange's fields (src/central/dashboard/series.ts). */
export const rangeQuery = {
  type: "object",
  properties: { range: text, from: text, to: text, week: text },
} as const;

/** parseFleetQuery's fields (src/central/dashboard/fleet-data.ts). */
export const fleetQuery = {
  type: "object",
  properties: { q: text, status: text, group: text, tag: text, sort: text, dir: text, per: text, page: text },
} as const;

export const weekParams = {
  type: "object",
  properties: { week: text },
  required: ["week"],
} as const;

export const weekFileParams = {
  type: "object",
  properties: { week: text, file: text },
  required: ["week", "file"],
} as const;

export const assetParams = {
  type: "object",
  properties: { file: text },
  required: ["file"],
} as const;

export const reportWeekQuery = {
  type: "object",
  properties: { group: text, resent: text },
} as const;

export const reportFileQuery = {
  type: "object",
  properties: { group: text },
} as const;

export const loginQuery = {
  type: "object",
  properties: { next: text },
} as const;

/*
 * Form posts' bodies: the fields the dashboard's form parser (plugin.ts)
 * gives, the first value of each name. `_csrf` is in every form.
 */

export const signInForm = {
  type: "object",
  properties: { _csrf: text, username: text, password: text, next: text },
} as const;

export const csrfOnlyForm = {
  type: "object",
  properties: { _csrf: text },
} as const;

export const resendForm = {
  type: "object",
  properties: { _csrf: text, group: text },
} as const;

/** Create or revoke a token. */
export const tokenForm = {
  type: "object",
  properties: { _csrf: text, role: text, name: text, groups: text },
} as const;

/** Set and unset central tags of a server (/servers/NAME/tags). */
export const serverTagsForm = {
  type: "object",
  properties: { _csrf: text, set: text, unset: text },
} as const;

/** Create an enrolment token (/admin/add-server). */
export const enrolmentForm = {
  type: "object",
  properties: { _csrf: text, servers: text, uses: text, expires: text, tags: text, allow_reenrol: text },
} as const;

/** Revoke an enrolment token (its id). */
export const enrolmentRevokeForm = {
  type: "object",
  properties: { _csrf: text, id: text },
} as const;

/** Add (with a password) or remove a user. */
export const userForm = {
  type: "object",
  properties: { _csrf: text, name: text, role: text, password: text, groups: text },
} as const;

/** /alerts: how many days of history (1–90, default 7). */
export const alertsQuery = {
  type: "object",
  properties: { days: text },
} as const;

/** Acknowledge an open alert (its id), with a note. */
export const ackForm = {
  type: "object",
  properties: { _csrf: text, id: text, note: text },
} as const;

/** Add a silence: a server glob, a rule, a group (any mix), a span and a reason. */
export const silenceForm = {
  type: "object",
  properties: { _csrf: text, server: text, rule: text, group: text, duration: text, reason: text },
} as const;

/** End a silence (its id). */
export const silenceEndForm = {
  type: "object",
  properties: { _csrf: text, id: text },
} as const;

/** Send a test notification through a channel (its name). */
export const channelTestForm = {
  type: "object",
  properties: { _csrf: text, name: text },
} as const;

/** /admin/agent-updates: `fleet` and one `group:NAME` per group, each default|on|off (read by name, not described). */
export const agentUpdatesForm = {
  type: "object",
  properties: { _csrf: text, fleet: text },
} as const;

/** GET /auth/oidc/callback: the provider's authorization response (RFC 6749 §4.1.2, RFC 9207's iss). */
export const oidcCallbackQuery = {
  type: "object",
  properties: { code: text, state: text, iss: text, error: text, error_description: text },
} as const;

/** POST /auth/oidc/backchannel-logout: the provider's logout token (OpenID Connect Back-Channel Logout 1.0 §2.5). */
export const logoutTokenForm = {
  type: "object",
  properties: { logout_token: text },
} as const;
