/**
 * What `central serve` and `srvutil alerts …` build from the central's
 * settings: the alerts config (SRVUTIL_ALERTS_CONFIG or the defaults, its
 * routes checked against the groups file), the group lookup of routes and
 * silences, and one channel per configured channel.
 */
import type { CentralConfig } from "../config.js";
import { CurrentTags } from "../delivery/current-tags.js";
import { loadDeliveryGroups } from "../delivery/groups.js";
import { createMailTransport, type MailTransport } from "../mail/index.js";
import { type AlertChannel, firingValidForMs } from "./channel-types.js";
import { createChannel } from "./channels/index.js";
import { type AlertsConfig, checkRouteGroups, defaultAlertsConfig, loadAlertsConfig } from "./config.js";

export interface Alerting {
  config: AlertsConfig;
  /** The report groups (SRVUTIL_GROUPS_FILE) a server belongs to, the default group (the whole fleet) included. */
  groupsOf: (server: string) => readonly string[];
  /** The servers' current tags groupsOf matches tag-selecting groups with; refresh() it from store.tags. */
  tags: CurrentTags;
  channels: Map<string, AlertChannel>;
  /** The mail transport email channels send through; close() it when done. */
  mail: MailTransport;
}

/** Reads and checks everything alerts need; a ConfigError names every mistake. */
export function loadAlerting(central: CentralConfig, env: NodeJS.ProcessEnv): Alerting {
  const file = central.alertsConfigFile;
  const config = file === null ? defaultAlertsConfig() : loadAlertsConfig(file, env);
  const groups = loadDeliveryGroups(central.delivery.groupsFile, central.reportTo);
  checkRouteGroups(
    config,
    groups.map((g) => g.name),
    file ?? "defaults",
  );
  const tags = new CurrentTags();
  const groupsOf = (server: string): readonly string[] =>
    groups.filter((g) => g.includes(server, tags.of(server))).map((g) => g.name);
  const mail = createMailTransport(
    { smtpUrl: central.smtpUrl, outboxDir: central.paths.outbox },
    central.smtp,
  );
  const ctx = {
    mail,
    mailFrom: central.mailFrom,
    publicUrl: central.digest.publicUrl,
    now: Date.now,
    firingValidForMs: firingValidForMs(config.evaluateMs),
  };
  const channels = new Map(config.channels.map((c) => [c.name, createChannel(c, ctx)]));
  return { config, groupsOf, tags, channels, mail };
}
