import { scopeFromColumn, scopeToColumn } from "../auth/principal.js";
import { sessionFields } from "./sso-session-rows.js";
import type { ActiveSession, UserRecord, UserRole } from "./user-store.js";

/**
 * The rows of the "users" component as both backends return them
 * (PostgreSQL's BIGINTs may come as strings), their mapping to the port's
 * types, and the statements both run, with PostgreSQL's `$N` placeholders
 * (SQLite: fromPg). SQLite: ./sqlite/users.ts, PostgreSQL: ./postgres/users.ts.
 */
export interface UserRow {
  name: string;
  role: UserRole;
  password_hash: string;
  scope_groups: string | null;
  created_at: string | number;
}

export const toUser = (r: UserRow): UserRecord => ({
  name: r.name,
  role: r.role,
  groups: scopeFromColumn(r.scope_groups),
  passwordHash: r.password_hash,
  createdAt: Number(r.created_at),
});

/** The values of USER_SQL.insert and USER_SQL.upsert. */
export const userValues = (u: UserRecord): (string | number | null)[] => [
  u.name,
  u.role,
  u.passwordHash,
  u.createdAt,
  scopeToColumn(u.groups),
];

/** A row of USER_SQL.findSession: a password sign-in's session with its user's role and scope. */
export interface SessionRow {
  id_hash: string;
  user_name: string;
  csrf_token: string;
  created_at: string | number;
  expires_at: string | number;
  role: UserRole;
  scope_groups: string | null;
}

export const toSession = (r: SessionRow): ActiveSession => ({
  ...sessionFields(r),
  role: r.role,
  groups: scopeFromColumn(r.scope_groups),
});

const USER_INSERT = `INSERT INTO dashboard_users (name, role, password_hash, created_at, scope_groups)
  VALUES ($1, $2, $3, $4, $5)`;

export const USER_SQL = {
  insert: `${USER_INSERT} ON CONFLICT (name) DO NOTHING`,
  upsert: `${USER_INSERT}
  ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, scope_groups = excluded.scope_groups`,
  find: "SELECT * FROM dashboard_users WHERE name = $1",
  list: "SELECT * FROM dashboard_users ORDER BY name",
  remove: "DELETE FROM dashboard_users WHERE name = $1",
  removeSessionsOf: "DELETE FROM dashboard_sessions WHERE user_name = $1",
  insertSession:
    "INSERT INTO dashboard_sessions (id_hash, user_name, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
  findSession: `SELECT s.id_hash, s.user_name, s.csrf_token, s.created_at, s.expires_at, u.role, u.scope_groups
    FROM dashboard_sessions s JOIN dashboard_users u ON u.name = s.user_name
    WHERE s.id_hash = $1 AND s.expires_at > $2`,
} as const;
