import { type CentralConfig, loadCentralConfig, unknownVariableWarnings } from "../central/config.js";

/**
 * The central's configuration from this process's environment, for every
 * command that reads it. An SRVUTIL_* variable that no part of srvutil reads
 * (a typo such as …_REPORT_TIMEZONE for …_REPORT_TZ) is warned about first, with the
 * nearest setting's name, also when the configuration is then refused.
 */
export function centralConfigFromEnv(): CentralConfig {
  for (const warning of unknownVariableWarnings(process.env)) {
    process.stderr.write(`srvutil: warning: ${warning}\n`);
  }
  return loadCentralConfig(process.env);
}
