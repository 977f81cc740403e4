import type Database from "better-sqlite3";
import {
  SSO_SESSIONS_DESCRIPTION,
  SSO_SQL,
  type SsoRow,
  ssoRowValues,
  ssoSessionFromRow,
  ssoSessionsTable,
} from "../sso-session-rows.js";
import type { ActiveSession, SessionRecord, SsoSessionFields } from "../user-store.js";
import type { Migration } from "./migrate.js";
import { fromPg } from "./prepared.js";

/**
 * The "sso_sessions" migration component: sessions of a sign-in with OpenID
 * Connect. Their user is not a dashboard user (the role and groups come from
 * the provider's claims), so they cannot live in dashboard_sessions, whose
 * rows belong to a dashboard_users row. ./users.ts reads both tables.
 */
export const SSO_SESSIONS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: SSO_SESSIONS_DESCRIPTION,
    sql: ssoSessionsTable("INTEGER", " WITHOUT ROWID"),
  },
];

export function sqliteInsertSso(db: Database.Database, s: SessionRecord, sso: SsoSessionFields): void {
  db.prepare(fromPg(SSO_SQL.insert)).run(...ssoRowValues(s, sso));
}

export function sqliteFindSso(db: Database.Database, idHash: string, now: number): ActiveSession | null {
  const r = db.prepare(fromPg(SSO_SQL.find)).get(idHash, now) as SsoRow | undefined;
  return r === undefined ? null : ssoSessionFromRow(r);
}
