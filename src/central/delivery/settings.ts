import { Cron } from "croner";
import { ConfigError } from "../../errors.js";

export interface RetryPolicy {
  /** Delay after the first failed attempt; doubles after each further failure. */
  initialDelayMs: number;
  /** Upper bound of the delay between two attempts. */
  maxDelayMs: number;
  /** Retries stop this long after the delivery was queued; it is then marked failed. */
  retryForMs: number;
}

/** Delivery-only knobs, read from SRVUTIL_REPORT_CRON, SRVUTIL_GROUPS_FILE and SRVUTIL_DELIVERY_* by loadCentralConfig. */
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

export function validateCron(expr: string): void {
  try {
    new Cron(expr, { paused: true });
  } catch (err) {
    throw new ConfigError(
      `SRVUTIL_REPORT_CRON: expected a cron expression such as "${DEFAULT_REPORT_CRON}" (Mondays 07:00) or "off", ` +
        `got '${expr}' (${(err as Error).message})`,
    );
  }
}

/** Delay before attempt n+1 after n failed attempts: initial × 2^(n−1), capped. */
export function retryDelay(policy: RetryPolicy, failedAttempts: number): number {
  const exp = Math.min(Math.max(failedAttempts - 1, 0), 40);
  return Math.min(policy.initialDelayMs * 2 ** exp, policy.maxDelayMs);
}
