/**
 * The alert channels: one file per type behind the one AlertChannel
 * interface (like node_exporter's collectors), chosen here by
 * `config.type`. Each sends one message per NotificationBatch and throws
 * ChannelSendError when the service refuses or cannot be reached. What each
 * sends is documented in docs/alerts-channels.md.
 */
import type { AlertChannel, ChannelConfig, ChannelContext, ChannelType } from "../channel-types.js";
import { alertmanagerChannel } from "./alertmanager.js";
import { emailChannel } from "./email.js";
import { ntfyChannel } from "./ntfy.js";
import { slackChannel } from "./slack.js";
import { teamsChannel } from "./teams.js";
import { webhookChannel } from "./webhook.js";

export { describeChannel } from "./describe.js";
export { ChannelSendError, isPermanentHttpStatus } from "./send-error.js";

const FACTORIES: Readonly<Record<ChannelType, (config: ChannelConfig, ctx: ChannelContext) => AlertChannel>> =
  {
    email: emailChannel,
    webhook: webhookChannel,
    slack: (config) => slackChannel(config),
    teams: teamsChannel,
    ntfy: ntfyChannel,
    alertmanager: alertmanagerChannel,
  };

export function createChannel(config: ChannelConfig, ctx: ChannelContext): AlertChannel {
  return FACTORIES[config.type](config, ctx);
}
