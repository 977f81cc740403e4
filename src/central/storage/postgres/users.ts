import type pg from "pg";
import type { ActiveSession, SessionRecord, UserRecord, UserRole, UserStore } from "../user-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";

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
];

interface UserRow {
  name: string;
  role: UserRole;
  password_hash: string;
  created_at: string | number;
}

const toUser = (r: UserRow): UserRecord => ({
  name: r.name,
  role: r.role,
  passwordHash: r.password_hash,
  createdAt: Number(r.created_at),
});

export class PgUserStore implements UserStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "users", PG_USERS_MIGRATIONS);
  }

  async addUser(user: UserRecord): Promise<boolean> {
    const r = await this.pool.query(
      "INSERT INTO dashboard_users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
      [user.name, user.role, user.passwordHash, user.createdAt],
    );
    return r.rowCount === 1;
  }

  async putUser(user: UserRecord): Promise<void> {
    await this.inTransaction(async (c) => {
      await c.query("DELETE FROM dashboard_sessions WHERE user_name = $1", [user.name]);
      await c.query(
        `INSERT INTO dashboard_users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash`,
        [user.name, user.role, user.passwordHash, user.createdAt],
      );
    });
  }

  async findUser(name: string): Promise<UserRecord | null> {
    const r = await this.pool.query<UserRow>("SELECT * FROM dashboard_users WHERE name = $1", [name]);
    return r.rows[0] === undefined ? null : toUser(r.rows[0]);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.pool.query<UserRow>("SELECT * FROM dashboard_users ORDER BY name")).rows.map(toUser);
  }

  async removeUser(name: string): Promise<boolean> {
    return this.inTransaction(async (c) => {
      await c.query("DELETE FROM dashboard_sessions WHERE user_name = $1", [name]);
      return (await c.query("DELETE FROM dashboard_users WHERE name = $1", [name])).rowCount === 1;
    });
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.pool.query(
      "INSERT INTO dashboard_sessions (id_hash, user_name, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
      [s.idHash, s.user, s.csrfToken, s.createdAt, s.expiresAt],
    );
  }

  async findSession(idHash: string, now: number): Promise<ActiveSession | null> {
    const r = await this.pool.query<{
      id_hash: string;
      user_name: string;
      csrf_token: string;
      created_at: string | number;
      expires_at: string | number;
      role: UserRole;
    }>(
      `SELECT s.id_hash, s.user_name, s.csrf_token, s.created_at, s.expires_at, u.role
       FROM dashboard_sessions s JOIN dashboard_users u ON u.name = s.user_name
       WHERE s.id_hash = $1 AND s.expires_at > $2`,
      [idHash, now],
    );
    const row = r.rows[0];
    if (row === undefined) return null;
    return {
      idHash: row.id_hash,
      user: row.user_name,
      csrfToken: row.csrf_token,
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      role: row.role,
    };
  }

  async touchSession(idHash: string, expiresAt: number): Promise<void> {
    await this.pool.query("UPDATE dashboard_sessions SET expires_at = $1 WHERE id_hash = $2", [
      expiresAt,
      idHash,
    ]);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.pool.query("DELETE FROM dashboard_sessions WHERE id_hash = $1", [idHash]);
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    return (
      (await this.pool.query("DELETE FROM dashboard_sessions WHERE expires_at <= $1", [now])).rowCount ?? 0
    );
  }

  async countLoginFailures(key: string, since: number): Promise<number> {
    const r = await this.pool.query<{ n: number }>(
      "SELECT COUNT(*)::int AS n FROM login_failures WHERE key = $1 AND at >= $2",
      [key, since],
    );
    return r.rows[0]?.n ?? 0;
  }

  async recordLoginFailure(key: string, at: number, forgetBefore: number): Promise<void> {
    await this.inTransaction(async (c) => {
      await c.query("DELETE FROM login_failures WHERE key = $1 AND at < $2", [key, forgetBefore]);
      await c.query("INSERT INTO login_failures (key, at) VALUES ($1, $2)", [key, at]);
    });
  }

  async clearLoginFailures(key: string): Promise<void> {
    await this.pool.query("DELETE FROM login_failures WHERE key = $1", [key]);
  }

  private async inTransaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      const out = await fn(c);
      await c.query("COMMIT");
      return out;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}
