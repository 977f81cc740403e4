import { Cron } from "croner";

/** A delivery setting that is malformed; the message names the variable and the accepted form. */
export class DeliveryConfigError extends Error {
  override readonly name = "DeliveryConfigError";
}

export interface RetryPolicy {
  /** Delay after the first failed attempt; doubles after each further failure. */
  initialDelayMs: number;
  /** Upper bound of the delay between two attempts. */
  maxDelayMs: number;
  /** Retries stop this long after the delivery was queued; it is then marked failed. */
  retryForMs: number;
}

export interface DeliverySettings {
  /** Cron expression in the report time zone; null when SRVUTIL_REPORT_CRON=off. */
  cron: string | null;
  /** JSON groups file (docs/delivery.md); null = one default group to SRVUTIL_REPORT_TO. */
  groupsFile: string | null;
  retry: RetryPolicy;
  /** How often a running scheduler looks for due deliveries queued by other processes. */
  pollMs: number;
  /**
   * How long a claimed delivery stays reserved for the process sending it;
   * renewed every third of it during the attempt, so after a crash another
   * process takes over within this time.
   */
  leaseMs: number;
}

export const DEFAULT_REPORT_CRON = "0 7 * * 1";

/**
 * Delivery settings from the environment (the central config owns the SMTP
 * URL, sender, recipients and time zone; these are delivery-only knobs):
 * SRVUTIL_REPORT_CRON, SRVUTIL_GROUPS_FILE, SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS,
 * SRVUTIL_DELIVERY_RETRY_MAX_SECONDS, SRVUTIL_DELIVERY_RETRY_HOURS,
 * SRVUTIL_DELIVERY_POLL_SECONDS, SRVUTIL_DELIVERY_LEASE_SECONDS.
 * Durations accept decimals (tests use fractions of a second).
 */
export function loadDeliverySettings(env: NodeJS.ProcessEnv = process.env): DeliverySettings {
  const cronRaw = (env.SRVUTIL_REPORT_CRON ?? "").trim();
  let cron: string | null = cronRaw === "" ? DEFAULT_REPORT_CRON : cronRaw;
  if (/^(off|none|disabled)$/i.test(cronRaw)) cron = null;
  if (cron !== null) validateCron(cron);
  const groupsFile = (env.SRVUTIL_GROUPS_FILE ?? "").trim();
  const retryInitial = seconds(env, "SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS", 60);
  const retryMax = seconds(env, "SRVUTIL_DELIVERY_RETRY_MAX_SECONDS", 3600);
  if (retryMax < retryInitial) {
    throw new DeliveryConfigError(
      "SRVUTIL_DELIVERY_RETRY_MAX_SECONDS must be >= SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS",
    );
  }
  return {
    cron,
    groupsFile: groupsFile === "" ? null : groupsFile,
    retry: {
      initialDelayMs: retryInitial * 1000,
      maxDelayMs: retryMax * 1000,
      retryForMs: seconds(env, "SRVUTIL_DELIVERY_RETRY_HOURS", 12) * 3_600_000,
    },
    pollMs: seconds(env, "SRVUTIL_DELIVERY_POLL_SECONDS", 30) * 1000,
    leaseMs: seconds(env, "SRVUTIL_DELIVERY_LEASE_SECONDS", 300) * 1000,
  };
}

export function validateCron(expr: string): void {
  try {
    new Cron(expr, { paused: true });
  } catch (err) {
    throw new DeliveryConfigError(
      `SRVUTIL_REPORT_CRON: '${expr}' is not a cron expression (${(err as Error).message}); ` +
        `e.g. "${DEFAULT_REPORT_CRON}" = Mondays 07:00, or "off"`,
    );
  }
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = (env[name] ?? "").trim();
  if (raw === "") return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0) {
    throw new DeliveryConfigError(`${name}: expected a positive number, got '${raw}'`);
  }
  return Number(raw);
}

/** Delay before attempt n+1 after n failed attempts: initial × 2^(n−1), capped. */
export function retryDelay(policy: RetryPolicy, failedAttempts: number): number {
  const exp = Math.min(Math.max(failedAttempts - 1, 0), 40);
  return Math.min(policy.initialDelayMs * 2 ** exp, policy.maxDelayMs);
}
