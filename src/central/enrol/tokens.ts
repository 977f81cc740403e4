import { randomBytes } from "node:crypto";
import { InputError } from "../../errors.js";
import { hashSecret, SERVERS_GLOB } from "../auth/tokens.js";
import type { EnrolmentTokenRecord, Storage } from "../storage/store.js";

/**
 * Enrolment token format: `srve_<id>_<secret>`, the shape of the API tokens
 * (../auth/tokens.ts): `id` 12 hex chars (public, the lookup key), `secret`
 * 64 hex chars = 256 random bits, of which only SHA-256 is stored. A distinct
 * prefix, so that no route mistakes one for an agent token and an operator
 * sees at once which kind was pasted.
 */
const ENROLMENT_TOKEN = /^srve_([0-9a-f]{12})_([0-9a-f]{64})$/;

export function parseEnrolmentToken(token: string): { tokenId: string; secret: string } | null {
  const m = ENROLMENT_TOKEN.exec(token);
  return m === null ? null : { tokenId: m[1]!, secret: m[2]! };
}

export interface NewEnrolmentToken {
  /** Glob of the server names it may enrol. */
  servers: string;
  maxUses: number;
  /** How long from now it is valid (ms). */
  expiresInMs: number;
  allowReenrol: boolean;
  tags: Readonly<Record<string, string>>;
  createdBy: string;
}

/** The longest an enrolment token may live: it is a secret that creates servers. */
export const MAX_ENROLMENT_LIFETIME_MS = 365 * 24 * 3600_000;
export const MAX_ENROLMENT_USES = 100_000;
const TAG_KEY = /^[A-Za-z0-9._-]{1,64}$/;

/** What the messages call each input: the CLI's options by default, the dashboard's fields there. */
export interface EnrolmentFieldNames {
  servers: string;
  uses: string;
  expires: string;
  tag: string;
}
export const CLI_FIELD_NAMES: EnrolmentFieldNames = {
  servers: "--servers",
  uses: "--uses",
  expires: "--expires",
  tag: "--tag",
};

/** Creates an enrolment token and returns it (shown once) with its stored record. */
export async function createEnrolmentToken(
  store: Storage,
  spec: NewEnrolmentToken,
  now = Date.now(),
  names: EnrolmentFieldNames = CLI_FIELD_NAMES,
): Promise<{ token: string; record: EnrolmentTokenRecord }> {
  if (!SERVERS_GLOB.test(spec.servers)) {
    throw new InputError(
      `${names.servers} '${spec.servers}': expected a glob of server names (letters, digits, . _ - and *), such as 'web-*' or '*'`,
    );
  }
  if (!Number.isInteger(spec.maxUses) || spec.maxUses < 1 || spec.maxUses > MAX_ENROLMENT_USES) {
    throw new InputError(
      `${names.uses}: expected a whole number from 1 to ${MAX_ENROLMENT_USES}, got ${spec.maxUses}`,
    );
  }
  if (!(spec.expiresInMs > 0) || spec.expiresInMs > MAX_ENROLMENT_LIFETIME_MS) {
    throw new InputError(`${names.expires}: expected a duration from 1m to 365d, such as 30m, 24h or 7d`);
  }
  for (const [k, v] of Object.entries(spec.tags)) {
    if (!TAG_KEY.test(k) || v.length > 200) {
      throw new InputError(
        `${names.tag} '${k}=${v}': keys are 1 to 64 letters, digits, . _ -; values at most 200 characters`,
      );
    }
  }
  const tokenId = randomBytes(6).toString("hex");
  const secret = randomBytes(32).toString("hex");
  const record: EnrolmentTokenRecord = {
    tokenId,
    secretHash: hashSecret(secret),
    servers: spec.servers,
    maxUses: spec.maxUses,
    uses: 0,
    expiresAt: now + spec.expiresInMs,
    tags: { ...spec.tags },
    allowReenrol: spec.allowReenrol,
    createdBy: spec.createdBy,
    createdAt: now,
    revokedAt: null,
  };
  await store.enrolments.create(record);
  return { token: `srve_${tokenId}_${secret}`, record };
}

/** `30m`, `24h`, `7d` (also `90s` for tests of expiry) → milliseconds. */
export function parseDuration(text: string, field = CLI_FIELD_NAMES.expires): number {
  const m = /^([1-9][0-9]{0,6})([smhd])$/.exec(text.trim());
  if (m === null) throw new InputError(`${field} '${text}': expected a duration such as 30m, 24h or 7d`);
  const unit = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

/** `--tag k=v` values → a map (the last of a repeated key wins). */
export function parseTags(pairs: readonly string[], field = CLI_FIELD_NAMES.tag): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InputError(`${field} '${pair}': expected KEY=VALUE`);
    tags[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return tags;
}
