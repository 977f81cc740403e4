import type { ChannelConfig, ChannelType } from "../channel-types.js";

/**
 * The channel types whose URL path or query is itself the secret: a Slack
 * or Teams webhook URL, a webhook receiver's tokenised path, an ntfy topic
 * (on a public ntfy server the topic name is the only password). Their URL
 * is only ever shown as scheme://host:port.
 */
const SECRET_PATH_TYPES: ReadonlySet<ChannelType> = new Set(["webhook", "slack", "teams", "ntfy"]);

export function urlPathIsSecret(type: ChannelType): boolean {
  return SECRET_PATH_TYPES.has(type);
}

/** scheme://host[:port] of a URL, never its credentials, path or query; "(no URL)" / "(bad URL)" otherwise. */
export function urlOrigin(url: string | null): string {
  if (url === null || url === "") return "(no URL)";
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(bad URL)";
  }
}

/**
 * How logs, errors and the dashboard name a channel: its type, its name and
 * where it sends, without a secret. An HTTP channel shows only the URL's
 * scheme, host and port (Alertmanager's path too is left out, so one rule
 * covers every type); email shows its recipients, which are not secret.
 */
export function describeChannel(config: ChannelConfig): string {
  const where =
    config.type === "email"
      ? config.to.length === 0
        ? "no recipients"
        : `to ${config.to.join(", ")}`
      : urlOrigin(config.url);
  return `${config.type} channel "${config.name}" (${where})`;
}
