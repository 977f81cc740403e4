/**
 * The server name of a foreign input's series, from a configurable label
 * (SRVUTIL_PROMETHEUS_SERVER_LABEL, default `instance`;
 * SRVUTIL_OTLP_SERVER_ATTRIBUTE, default `host.name`;
 * SRVUTIL_TELEGRAF_SERVER_TAG, default `host`). The `instance` label is
 * `host:port`: its host is the server, without the port (and without the
 * brackets of an IPv6 address). Validation happens in the sink.
 */
export function serverFromLabel(labelName: string, value: string | undefined): string | null {
  if (value === undefined || value === "") return null;
  if (labelName !== "instance") return value;
  return hostWithoutPort(value);
}

/** `web-01:9100` → `web-01`; `[::1]:9100` → `::1`; `web-01` → `web-01`. */
export function hostWithoutPort(instance: string): string {
  if (instance.startsWith("[")) {
    const end = instance.indexOf("]");
    return end === -1 ? instance : instance.slice(1, end);
  }
  const colon = instance.lastIndexOf(":");
  // Two or more colons and no brackets: a bare IPv6 address, no port.
  if (colon === -1 || instance.indexOf(":") !== colon) return instance;
  return /^\d+$/.test(instance.slice(colon + 1)) ? instance.slice(0, colon) : instance;
}
