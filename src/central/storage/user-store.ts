/**
 * Dashboard users, their server-side sessions and the sign-in throttle, in the
 * central's database so that every instance behind a load balancer sees the
 * same sessions: signing out or removing a user on one ends it on all.
 * SQLite: ./sqlite/users.ts; PostgreSQL: ./postgres/users.ts.
 */
import type { Principal } from "../auth/principal.js";

export type UserRole = Principal["role"];

/** A user is a principal (role and scope) with a name and a password. */
export interface UserRecord extends Principal {
  name: string;
  /** `scrypt$N$r$p$salt$hash` (src/central/dashboard/password.ts); never the password. */
  passwordHash: string;
  createdAt: number;
}

export interface SessionRecord {
  /** Hex SHA-256 of the cookie value: a copy of the database does not give live sessions. */
  idHash: string;
  user: string;
  /** The synchronizer token every form and state-changing request of this session carries. */
  csrfToken: string;
  createdAt: number;
  /** Idle expiry, pushed forward as the session is used. */
  expiresAt: number;
}

/** A live session joined with its user (removed users have none): the user's role and scope now. */
export interface ActiveSession extends SessionRecord, Principal {}

/** One key of the sign-in throttle: failures counted, and when the last attempt was. */
export interface LoginThrottleState {
  failures: number;
  lastAt: number;
}

export interface UserStore {
  /** Creates or upgrades the users tables. Idempotent. */
  init(): Promise<void>;

  /** Adds a user; false (nothing changed) when the name is taken. */
  addUser(user: UserRecord): Promise<boolean>;
  /** Sets role, scope and password of an existing user or adds it; ends its sessions when it existed. */
  putUser(user: UserRecord): Promise<void>;
  findUser(name: string): Promise<UserRecord | null>;
  /** By name. */
  listUsers(): Promise<UserRecord[]>;
  /** Removes the user and every session of it in one transaction; false when there was none. */
  removeUser(name: string): Promise<boolean>;

  createSession(session: SessionRecord): Promise<void>;
  /** The session if it exists, has not expired at `now` and its user still exists. */
  findSession(idHash: string, now: number): Promise<ActiveSession | null>;
  /** Moves the idle expiry forward. */
  touchSession(idHash: string, expiresAt: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /** Drops sessions expired before `now`; resolves to how many. */
  deleteExpiredSessions(now: number): Promise<number>;

  /**
   * The sign-in throttle's counters (src/central/dashboard/login-throttle.ts),
   * atomically: in one transaction, with the keys' rows locked against other
   * instances, reads the state of each key (null: none), hands them to
   * `decide` in the order given, writes the states it returns (null removes
   * the key) and resolves to its result.
   */
  updateLoginThrottle<T>(
    keys: readonly string[],
    decide: (states: (LoginThrottleState | null)[]) => {
      states: (LoginThrottleState | null)[];
      result: T;
    },
  ): Promise<T>;
  /** Drops the throttle keys whose last attempt is before `before`; keys in use by a transaction are left for later. */
  pruneLoginThrottle(before: number): Promise<void>;
}
