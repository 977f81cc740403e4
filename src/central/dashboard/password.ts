import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { InputError } from "../../errors.js";

// scrypt with N = 2^15, r = 8 (32 MiB, ~60 ms here): OWASP's minimum is 2^17 at
// r = 8 for interactive logins on servers; 2^15 keeps a login under 100 ms
// on a 2-core box while still costing an attacker 32 MiB per guess.
const N = 1 << 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const MAXMEM = 128 * N * R * 2;

export const MIN_PASSWORD_LENGTH = 10;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_BYTES,
      { N: n, r, p, maxmem: Math.max(MAXMEM, 128 * n * r * 2) },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash` (base64url), self-describing so the cost can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  checkPassword(password);
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, "base64url");
  const key = await derive(password, Buffer.from(salt, "base64url"), Number(n), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password, compared against when the user does not exist (same time either way). */
let decoy: Promise<string> | null = null;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(18).toString("base64url"));
  return decoy;
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InputError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`, {
      reason: "weak_password",
    });
  }
  if (password.length > 1024)
    throw new InputError("the password must have at most 1024 characters", { reason: "weak_password" });
}

export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/**
 * A control character (C0 or DEL). No user name has one, and PostgreSQL
 * refuses any query whose text carries a NUL, so input with one is refused
 * before it reaches the database.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

export function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw new InputError(
      `user name '${name.slice(0, 80)}': use letters, digits, . _ @ - (at most 64), starting with a letter or digit`,
    );
  }
}
