import type pg from "pg";
import {
  SSO_SESSIONS_DESCRIPTION,
  SSO_SQL,
  type SsoRow,
  ssoLogoutWhere,
  ssoRowValues,
  ssoSessionFromRow,
  ssoSessionsTable,
} from "../sso-session-rows.js";
import { type SessionRow, toSession, toUser, USER_SQL, type UserRow, userValues } from "../user-rows.js";
import type {
  ActiveSession,
  LoginThrottleState,
  SessionRecord,
  UserRecord,
  UserStore,
} from "../user-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";
import { inTransaction } from "./transaction.js";

/** The "sso_sessions" migration component; the same table as ../sqlite/sso-sessions.ts. */
export const PG_SSO_SESSIONS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: SSO_SESSIONS_DESCRIPTION,
    sql: ssoSessionsTable("BIGINT", ""),
  },
];

/** The "users" migration component; the same tables as ../sqlite/users.ts. */
export const PG_USERS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "dashboard users, server-side sessions, failed login attempts",
    sql: `
      CREATE TABLE dashboard_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE dashboard_sessions (
        id_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES dashboard_users (name) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_name);
      CREATE TABLE login_failures (key TEXT NOT NULL, at BIGINT NOT NULL);
      CREATE INDEX login_failures_key ON login_failures (key, at);
    `,
  },
  {
    version: 2,
    description:
      "sign-in throttle: one row per key (user and address, address) with its failures and last attempt, counted before the password is checked; replaces login_failures",
    sql: `
      CREATE TABLE login_throttle (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at BIGINT NOT NULL);
      CREATE INDEX login_throttle_last_at ON login_throttle (last_at);
      DROP TABLE login_failures;
    `,
  },
  {
    version: 3,
    description:
      "scoped viewers: the delivery groups a viewer may see (comma-separated; NULL: the whole fleet)",
    sql: `ALTER TABLE dashboard_users ADD COLUMN scope_groups TEXT;`,
  },
];

export class PgUserStore implements UserStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "users", PG_USERS_MIGRATIONS);
    await runPgMigrations(this.pool, "sso_sessions", PG_SSO_SESSIONS_MIGRATIONS);
  }

  async addUser(user: UserRecord): Promise<boolean> {
    return (await this.pool.query(USER_SQL.insert, userValues(user))).rowCount === 1;
  }

  async putUser(user: UserRecord): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(USER_SQL.removeSessionsOf, [user.name]);
      await c.query(USER_SQL.upsert, userValues(user));
    });
  }

  async findUser(name: string): Promise<UserRecord | null> {
    const r = await this.pool.query<UserRow>(USER_SQL.find, [name]);
    return r.rows[0] === undefined ? null : toUser(r.rows[0]);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.pool.query<UserRow>(USER_SQL.list)).rows.map(toUser);
  }

  async removeUser(name: string): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      await c.query(USER_SQL.removeSessionsOf, [name]);
      return (await c.query(USER_SQL.remove, [name])).rowCount === 1;
    });
  }

  async createSession(s: SessionRecord): Promise<void> {
    if (s.sso !== undefined && s.sso !== null) {
      await this.pool.query(SSO_SQL.insert, ssoRowValues(s, s.sso));
      return;
    }
    await this.pool.query(USER_SQL.insertSession, [s.idHash, s.user, s.csrfToken, s.createdAt, s.expiresAt]);
  }

  async findSession(idHash: string, now: number): Promise<ActiveSession | null> {
    const r = await this.pool.query<SessionRow>(USER_SQL.findSession, [idHash, now]);
    if (r.rows[0] !== undefined) return toSession(r.rows[0]);
    const sso = await this.pool.query<SsoRow>(SSO_SQL.find, [idHash, now]);
    return sso.rows[0] === undefined ? null : ssoSessionFromRow(sso.rows[0]);
  }

  async touchSession(idHash: string, expiresAt: number): Promise<void> {
    for (const table of ["dashboard_sessions", "dashboard_sso_sessions"]) {
      await this.pool.query(`UPDATE ${table} SET expires_at = $1 WHERE id_hash = $2`, [expiresAt, idHash]);
    }
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.pool.query("DELETE FROM dashboard_sessions WHERE id_hash = $1", [idHash]);
    await this.pool.query("DELETE FROM dashboard_sso_sessions WHERE id_hash = $1", [idHash]);
  }

  async endSsoSessions(target: { subject: string | null; providerSid: string | null }): Promise<number> {
    const q = ssoLogoutWhere(target);
    if (q === null) return 0;
    let n = 0;
    const where = q.where.replace(/\?/g, () => `$${++n}`);
    return (
      (await this.pool.query(`DELETE FROM dashboard_sso_sessions WHERE ${where}`, q.values)).rowCount ?? 0
    );
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    let n = 0;
    for (const table of ["dashboard_sessions", "dashboard_sso_sessions"]) {
      n += (await this.pool.query(`DELETE FROM ${table} WHERE expires_at <= $1`, [now])).rowCount ?? 0;
    }
    return n;
  }

  async updateLoginThrottle<T>(
    keys: readonly string[],
    decide: (states: (LoginThrottleState | null)[]) => { states: (LoginThrottleState | null)[]; result: T },
  ): Promise<T> {
    // Sorted, so two transactions lock shared keys in the same order.
    const sorted = [...new Set(keys)].sort();
    return inTransaction(this.pool, async (c) => {
      // A row for every key first (a placeholder of 0 failures), so that
      // FOR UPDATE has something to lock even for a key seen the first time.
      await c.query(
        "INSERT INTO login_throttle (key, failures, last_at) SELECT unnest($1::text[]), 0, 0 ON CONFLICT (key) DO NOTHING",
        [sorted],
      );
      const r = await c.query<{ key: string; failures: number; last_at: string }>(
        "SELECT key, failures, last_at FROM login_throttle WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE",
        [sorted],
      );
      const byKey = new Map(r.rows.map((row) => [row.key, row]));
      const states = keys.map((key) => {
        const row = byKey.get(key);
        return row === undefined || row.failures === 0
          ? null
          : { failures: row.failures, lastAt: Number(row.last_at) };
      });
      const out = decide(states);
      const writes = new Map<string, LoginThrottleState | null>();
      for (const [i, key] of keys.entries()) writes.set(key, out.states[i] ?? null);
      const removed = [...writes].filter(([, v]) => v === null).map(([k]) => k);
      const kept = [...writes].filter((e): e is [string, LoginThrottleState] => e[1] !== null);
      if (removed.length > 0) {
        await c.query("DELETE FROM login_throttle WHERE key = ANY($1::text[])", [removed]);
      }
      if (kept.length > 0) {
        await c.query(
          `UPDATE login_throttle t SET failures = v.failures, last_at = v.last_at
           FROM unnest($1::text[], $2::int[], $3::bigint[]) AS v (key, failures, last_at)
           WHERE t.key = v.key`,
          [kept.map(([k]) => k), kept.map(([, v]) => v.failures), kept.map(([, v]) => v.lastAt)],
        );
      }
      return out.result;
    });
  }

  async pruneLoginThrottle(before: number): Promise<void> {
    // SKIP LOCKED: a key an attempt holds is left for the next prune instead of waited for (no deadlock).
    await this.pool.query(
      `DELETE FROM login_throttle WHERE key IN
         (SELECT key FROM login_throttle WHERE last_at < $1 FOR UPDATE SKIP LOCKED)`,
      [before],
    );
  }
}
