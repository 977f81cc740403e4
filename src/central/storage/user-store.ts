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

/**
 * What a sign-in with OpenID Connect adds to its session: the role and groups
 * come from the provider's claims at sign-in (src/central/dashboard/oidc-roles.ts),
 * not from a dashboard user, and the ID token goes back to the provider on sign-out.
 */
export interface SsoSessionFields {
  role: UserRole;
  /** null: the whole fleet; names: a viewer limited to these srvutil groups. */
  groups: string[] | null;
  /** The provider's ID token, sent back as id_token_hint on sign-out (RP-initiated logout). */
  idToken: string;
  /** The `sub` claim. */
  subject: string;
  /** The provider's session (`sid` claim), when it sends one. */
  providerSid: string | null;
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
  /** Set for a sign-in with OpenID Connect (its user is not a dashboard user); absent or null for a local one. */
  sso?: SsoSessionFields | null;
}

/**
 * A live session joined with its user (removed users have none): the user's
 * role and scope now; or an OpenID Connect session, whose role and scope
 * were mapped from the provider's claims at sign-in.
 */
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

  /** A local session (its user must exist), or an OpenID Connect one when `sso` is set. */
  createSession(session: SessionRecord): Promise<void>;
  /** The session if it exists, has not expired at `now` and (a local one) its user still exists. */
  findSession(idHash: string, now: number): Promise<ActiveSession | null>;
  /** Moves the idle expiry forward. */
  touchSession(idHash: string, expiresAt: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /**
   * Ends OpenID Connect sessions at the provider's word (back-channel
   * logout): those of the provider session `providerSid` when given (of
   * `subject` too when both are), else every session of `subject`.
   * Resolves to how many ended.
   */
  endSsoSessions(target: { subject: string | null; providerSid: string | null }): Promise<number>;
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
