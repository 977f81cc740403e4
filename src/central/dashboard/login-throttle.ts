import type { LoginThrottleState, UserStore } from "../storage/user-store.js";

/**
 * The sign-in throttle. Every attempt is reserved (counted as a failure)
 * in one database transaction BEFORE its password is verified, so parallel
 * guesses cannot all pass a check made before any of them failed; a
 * success then gives the attempt back.
 *
 * Two keys are counted: the user name together with the client address,
 * and the client address alone (one address guessing many names). Not the
 * user name alone: that would let anyone lock the real user out. After
 * `free` failures a key waits before its next attempt, 1 s doubling with
 * each failure up to 15 minutes; there is no lock an attacker can hold for
 * longer, and the real user from another address is never slowed down by
 * someone else's guesses. A key is forgotten a day after its last attempt;
 * a successful sign-in forgets its user-and-address key.
 */
export const LOGIN_THROTTLE = Object.freeze({
  /** Failures of one user name from one address before the delays start. */
  freePerUserAndAddress: 5,
  /** Failures from one address, whatever the user names, before the delays start. */
  freePerAddress: 20,
  firstDelayMs: 1_000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 24 * 3_600_000,
});

/** How long a key with `failures` recorded failures waits after its last attempt. */
export function loginDelayMs(failures: number, free: number): number {
  if (failures < free) return 0;
  return Math.min(LOGIN_THROTTLE.maxDelayMs, LOGIN_THROTTLE.firstDelayMs * 2 ** (failures - free));
}

export type LoginReservation =
  | { allowed: true; keys: LoginKeys }
  | { allowed: false; retryAfterMs: number; keys: LoginKeys };

export interface LoginKeys {
  userAndAddress: string;
  address: string;
}

export function loginKeys(user: string, address: string): LoginKeys {
  return { userAndAddress: `user+ip:${user.toLowerCase()}|${address}`, address: `ip:${address}` };
}

const live = (s: LoginThrottleState | null, now: number): LoginThrottleState | null =>
  s === null || s.failures <= 0 || now - s.lastAt >= LOGIN_THROTTLE.forgetAfterMs ? null : s;

/**
 * Reserves one attempt under both keys, or says how long until one is
 * allowed (nothing is counted then). Atomic across instances: the store runs
 * it in one transaction with the keys' rows locked.
 */
export async function reserveLoginAttempt(
  users: UserStore,
  user: string,
  address: string,
  now: number,
): Promise<LoginReservation> {
  const keys = loginKeys(user, address);
  const frees = [LOGIN_THROTTLE.freePerUserAndAddress, LOGIN_THROTTLE.freePerAddress];
  await users.pruneLoginThrottle(now - LOGIN_THROTTLE.forgetAfterMs);
  return users.updateLoginThrottle<LoginReservation>([keys.userAndAddress, keys.address], (states) => {
    const current = states.map((s) => live(s, now));
    const waits = current.map((s, i) =>
      s === null ? 0 : s.lastAt + loginDelayMs(s.failures, frees[i]!) - now,
    );
    const wait = Math.max(0, ...waits);
    if (wait > 0) return { states: current, result: { allowed: false, retryAfterMs: wait, keys } };
    return {
      states: current.map((s) => ({ failures: (s?.failures ?? 0) + 1, lastAt: now })),
      result: { allowed: true, keys },
    };
  });
}

/** After a successful sign-in: forgets the user-and-address key and gives the address its attempt back. */
export async function releaseLoginAttempt(users: UserStore, keys: LoginKeys, now: number): Promise<void> {
  await users.updateLoginThrottle([keys.userAndAddress, keys.address], (states) => {
    const address = live(states[1] ?? null, now);
    return {
      states: [
        null,
        address === null || address.failures <= 1 ? null : { ...address, failures: address.failures - 1 },
      ],
      result: undefined,
    };
  });
}
