import type { ActiveSession, SessionRecord, SsoSessionFields, UserRole } from "./user-store.js";

/**
 * A row of dashboard_sso_sessions (the sessions of OpenID Connect sign-ins)
 * to and from the session the dashboard reads, the same on both backends
 * (./sqlite/sso-sessions.ts, ./postgres/users.ts).
 */

export interface SsoRow {
  id_hash: string;
  user_name: string;
  role: UserRole;
  groups_json: string | null;
  csrf_token: string;
  created_at: number | string;
  expires_at: number | string;
  id_token: string;
  subject: string;
  provider_sid: string | null;
}

/** A row of dashboard_sso_sessions as the session the dashboard reads (both backends). */
export function ssoSessionFromRow(r: SsoRow): ActiveSession {
  const groups = r.groups_json === null ? null : (JSON.parse(r.groups_json) as string[]);
  const sso: SsoSessionFields = {
    role: r.role,
    groups,
    idToken: r.id_token,
    subject: r.subject,
    providerSid: r.provider_sid,
  };
  return { ...sessionFields(r), role: r.role, groups, sso };
}

/** The columns both session tables have (password and OpenID Connect sign-ins), as the session's fields. */
export function sessionFields(r: {
  id_hash: string;
  user_name: string;
  csrf_token: string;
  created_at: number | string;
  expires_at: number | string;
}): Pick<ActiveSession, "idHash" | "user" | "csrfToken" | "createdAt" | "expiresAt"> {
  return {
    idHash: r.id_hash,
    user: r.user_name,
    csrfToken: r.csrf_token,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

/** The values of an INSERT into dashboard_sso_sessions, in column order. */
export function ssoRowValues(s: SessionRecord, sso: SsoSessionFields): unknown[] {
  return [
    s.idHash,
    s.user,
    sso.role,
    sso.groups === null ? null : JSON.stringify(sso.groups),
    s.csrfToken,
    s.createdAt,
    s.expiresAt,
    sso.idToken,
    sso.subject,
    sso.providerSid,
  ];
}

/**
 * The WHERE clause and values of endSsoSessions (UserStore), with `?`
 * placeholders (PostgreSQL numbers them); null when the target names nothing.
 */
export function ssoLogoutWhere(t: { subject: string | null; providerSid: string | null }): {
  where: string;
  values: string[];
} | null {
  if (t.providerSid !== null && t.subject !== null) {
    return { where: "provider_sid = ? AND subject = ?", values: [t.providerSid, t.subject] };
  }
  if (t.providerSid !== null) return { where: "provider_sid = ?", values: [t.providerSid] };
  if (t.subject !== null) return { where: "subject = ?", values: [t.subject] };
  return null;
}

export const SSO_COLUMNS =
  "id_hash, user_name, role, groups_json, csrf_token, created_at, expires_at, id_token, subject, provider_sid";

/**
 * The table and its indexes, with the backend's epoch-ms integer type
 * (INTEGER, BIGINT) and table options (SQLite: WITHOUT ROWID).
 */
export function ssoSessionsTable(int: "INTEGER" | "BIGINT", options: "" | " WITHOUT ROWID"): string {
  return `CREATE TABLE dashboard_sso_sessions (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    groups_json TEXT,
    csrf_token TEXT NOT NULL,
    created_at ${int} NOT NULL,
    expires_at ${int} NOT NULL,
    id_token TEXT NOT NULL,
    subject TEXT NOT NULL,
    provider_sid TEXT
  )${options};
  CREATE INDEX dashboard_sso_sessions_sid ON dashboard_sso_sessions (provider_sid);
  CREATE INDEX dashboard_sso_sessions_expires ON dashboard_sso_sessions (expires_at);`;
}

/** The description of the component's one migration, the same on both backends. */
export const SSO_SESSIONS_DESCRIPTION =
  "sessions of OpenID Connect sign-ins: role and groups from the provider's claims, the ID token for sign-out";

/** Both backends' statements, with PostgreSQL's `$N` placeholders (SQLite: fromPg); insert takes ssoRowValues. */
export const SSO_SQL = {
  insert: `INSERT INTO dashboard_sso_sessions (${SSO_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  find: `SELECT ${SSO_COLUMNS} FROM dashboard_sso_sessions WHERE id_hash = $1 AND expires_at > $2`,
} as const;
