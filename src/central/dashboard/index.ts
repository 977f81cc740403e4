import type { AutomationLog } from "../automation-log.js";
import type { CentralConfig } from "../config.js";
import { loadDeliveryGroups } from "../delivery/groups.js";
import { resolveThresholds } from "../report/thresholds.js";
import type { Storage } from "../storage/store.js";
import type { DashboardOptions } from "./context.js";

export type { DashboardOptions } from "./context.js";

/** The dashboard's options from the central's configuration. */
export function dashboardOptions(
  config: CentralConfig,
  store: Storage,
  log: AutomationLog | null,
): DashboardOptions {
  return {
    log,
    store,
    groups: loadDeliveryGroups(config.delivery.groupsFile, config.reportTo),
    timeZone: config.reportTimeZone,
    thresholds: resolveThresholds(config.thresholds),
    publicUrl: config.digest.publicUrl,
    tls: config.tls !== null,
    retryForMs: config.delivery.retry.retryForMs,
    autoUpdateDefault: config.agentUpdates.autoUpdate,
    signIn: config.signIn,
  };
}
