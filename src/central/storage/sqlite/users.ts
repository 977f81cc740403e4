import type Database from "better-sqlite3";
import { ssoLogoutWhere } from "../sso-session-rows.js";
import { type SessionRow, toSession, toUser, USER_SQL, type UserRow, userValues } from "../user-rows.js";
import type {
  ActiveSession,
  LoginThrottleState,
  SessionRecord,
  UserRecord,
  UserStore,
} from "../user-store.js";
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";
import { SSO_SESSIONS_MIGRATIONS, sqliteFindSso, sqliteInsertSso } from "./sso-sessions.js";

/** The "users" migration component: dashboard users, sessions, the sign-in throttle. */
export const USERS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "dashboard users, server-side sessions, failed login attempts",
    sql: `
      CREATE TABLE dashboard_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE dashboard_sessions (
        id_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES dashboard_users (name) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_name);
      CREATE TABLE login_failures (
        key TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX login_failures_key ON login_failures (key, at);
    `,
  },
  {
    version: 2,
    description:
      "sign-in throttle: one row per key (user and address, address) with its failures and last attempt, counted before the password is checked; replaces login_failures",
    sql: `
      CREATE TABLE login_throttle (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at INTEGER NOT NULL
      ) WITHOUT ROWID;
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

export class SqliteUserStore implements UserStore {
  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "users", USERS_MIGRATIONS);
    runMigrations(this.db, "sso_sessions", SSO_SESSIONS_MIGRATIONS);
  }

  async addUser(user: UserRecord): Promise<boolean> {
    return this.sql(USER_SQL.insert).run(...userValues(user)).changes === 1;
  }

  async putUser(user: UserRecord): Promise<void> {
    this.db.transaction(() => {
      this.sql(USER_SQL.removeSessionsOf).run(user.name);
      this.sql(USER_SQL.upsert).run(...userValues(user));
    })();
  }

  async findUser(name: string): Promise<UserRecord | null> {
    const r = this.sql(USER_SQL.find).get(name) as UserRow | undefined;
    return r === undefined ? null : toUser(r);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.sql(USER_SQL.list).all() as UserRow[]).map(toUser);
  }

  async removeUser(name: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.sql(USER_SQL.removeSessionsOf).run(name);
      return this.sql(USER_SQL.remove).run(name).changes === 1;
    })();
  }

  async createSession(s: SessionRecord): Promise<void> {
    if (s.sso !== undefined && s.sso !== null) {
      sqliteInsertSso(this.db, s, s.sso);
      return;
    }
    this.sql(USER_SQL.insertSession).run(s.idHash, s.user, s.csrfToken, s.createdAt, s.expiresAt);
  }

  async findSession(idHash: string, now: number): Promise<ActiveSession | null> {
    const r = this.sql(USER_SQL.findSession).get(idHash, now) as SessionRow | undefined;
    return r === undefined ? sqliteFindSso(this.db, idHash, now) : toSession(r);
  }

  /** A statement of USER_SQL, with SQLite's placeholders. */
  private sql(text: string): Database.Statement {
    return this.db.prepare(fromPg(text));
  }

  async touchSession(idHash: string, expiresAt: number): Promise<void> {
    this.db.prepare("UPDATE dashboard_sessions SET expires_at = ? WHERE id_hash = ?").run(expiresAt, idHash);
    this.db
      .prepare("UPDATE dashboard_sso_sessions SET expires_at = ? WHERE id_hash = ?")
      .run(expiresAt, idHash);
  }

  async deleteSession(idHash: string): Promise<void> {
    this.db.prepare("DELETE FROM dashboard_sessions WHERE id_hash = ?").run(idHash);
    this.db.prepare("DELETE FROM dashboard_sso_sessions WHERE id_hash = ?").run(idHash);
  }

  async endSsoSessions(target: { subject: string | null; providerSid: string | null }): Promise<number> {
    const q = ssoLogoutWhere(target);
    if (q === null) return 0;
    return this.db.prepare(`DELETE FROM dashboard_sso_sessions WHERE ${q.where}`).run(...q.values).changes;
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    const local = this.db.prepare("DELETE FROM dashboard_sessions WHERE expires_at <= ?").run(now).changes;
    return (
      local + this.db.prepare("DELETE FROM dashboard_sso_sessions WHERE expires_at <= ?").run(now).changes
    );
  }

  async updateLoginThrottle<T>(
    keys: readonly string[],
    decide: (states: (LoginThrottleState | null)[]) => { states: (LoginThrottleState | null)[]; result: T },
  ): Promise<T> {
    const read = this.db.prepare("SELECT failures, last_at FROM login_throttle WHERE key = ?");
    const write = this.db.prepare(
      `INSERT INTO login_throttle (key, failures, last_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at`,
    );
    const remove = this.db.prepare("DELETE FROM login_throttle WHERE key = ?");
    // IMMEDIATE: the write lock is taken before the read, so another process cannot count in between.
    return this.db
      .transaction(() => {
        const states = keys.map((key) => {
          const r = read.get(key) as { failures: number; last_at: number } | undefined;
          return r === undefined ? null : { failures: r.failures, lastAt: r.last_at };
        });
        const out = decide(states);
        keys.forEach((key, i) => {
          const next = out.states[i] ?? null;
          if (next === null) remove.run(key);
          else write.run(key, next.failures, next.lastAt);
        });
        return out.result;
      })
      .immediate();
  }

  async pruneLoginThrottle(before: number): Promise<void> {
    this.db.prepare("DELETE FROM login_throttle WHERE last_at < ?").run(before);
  }
}
