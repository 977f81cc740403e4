// OWNER: delivery helper. `central serve` calls this; signature is a contract.
import type { AutomationLog } from "../automation-log.js";
import type { CentralConfig } from "../config.js";
import type { MetricsStore } from "../storage/store.js";

export interface RunningScheduler {
  stop(): Promise<void>;
}

/** Starts the weekly report schedule (and resumes pending deliveries) inside `central serve`. */
export async function startDeliveryScheduler(deps: {
  config: CentralConfig;
  store: MetricsStore;
  log: AutomationLog;
}): Promise<RunningScheduler> {
  void deps;
  return { stop: async () => {} };
}
