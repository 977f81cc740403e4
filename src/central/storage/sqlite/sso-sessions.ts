import type Database from "better-sqlite3";
import { SSO_COLUMNS, type SsoRow, ssoRowValues, ssoSessionFromRow } from "../sso-session-rows.js";
import type { ActiveSession, SessionRecord, SsoSessionFields } from "../user-store.js";
import type { Migration } from "./migrate.js";

/**
 * The "sso_sessions" migration component: sessions of a sign-in with OpenID
 * Connect. Their user is not a dashboard user (the role and groups come from
 * the provider's claims), so they cannot live in dashboard_sessions, whose
 * rows belong to a dashboard_users row. ./users.ts reads both tables.
 */
export const SSO_SESSIONS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description:
      "sessions of OpenID Connect sign-ins: role and groups from the provider's claims, the ID token for sign-out",
    sql: `
      CREATE TABLE dashboard_sso_sessions (
        id_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        groups_json TEXT,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        id_token TEXT NOT NULL,
        subject TEXT NOT NULL,
        provider_sid TEXT
      ) WITHOUT ROWID;
      CREATE INDEX dashboard_sso_sessions_sid ON dashboard_sso_sessions (provider_sid);
      CREATE INDEX dashboard_sso_sessions_expires ON dashboard_sso_sessions (expires_at);
    `,
  },
];

export function sqliteInsertSso(db: Database.Database, s: SessionRecord, sso: SsoSessionFields): void {
  db.prepare(`INSERT INTO dashboard_sso_sessions (${SSO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
    ...ssoRowValues(s, sso),
  );
}

export function sqliteFindSso(db: Database.Database, idHash: string, now: number): ActiveSession | null {
  const r = db
    .prepare(`SELECT ${SSO_COLUMNS} FROM dashboard_sso_sessions WHERE id_hash = ? AND expires_at > ?`)
    .get(idHash, now) as SsoRow | undefined;
  return r === undefined ? null : ssoSessionFromRow(r);
}
