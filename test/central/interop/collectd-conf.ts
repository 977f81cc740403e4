/**
 * The collectd.conf the tests run the real collectd with: the block
 * docs/integrations.md gives (cpu, memory, df without the pseudo
 * filesystems, write_http with Format "JSON" and a bearer token), plus what a
 * test run needs (its own base dir, pid file, log to stdout, a short interval).
 */
import { readFileSync } from "node:fs";
import { PSEUDO_FS_TYPES } from "../../../src/protocol/filesystems.js";

/**
 * Whether / here is an overlay (a container, or the clean room's chroot): the
 * docs then say to leave overlay out of the df list, so that the root is
 * reported, as the agent reports it there.
 */
export function rootIsOverlay(): boolean {
  const root = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .find((l) => l.split(" ")[1] === "/");
  return root?.split(" ")[2] === "overlay";
}

export const COLLECTD_BIN = "/usr/sbin/collectd";

export function collectdConf(options: {
  dir: string;
  url: string;
  token: string;
  hostname: string;
  intervalSeconds: number;
  bufferSize?: number;
}): string {
  const fsTypes = [...PSEUDO_FS_TYPES]
    .filter((t) => !(t === "overlay" && rootIsOverlay()))
    .map((t) => `  FSType "${t}"`)
    .join("\n");
  return `Hostname "${options.hostname}"
FQDNLookup false
BaseDir "${options.dir}"
PIDFile "${options.dir}/collectd.pid"
TypesDB "/usr/share/collectd/types.db"
Interval ${options.intervalSeconds}

LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDOUT
</Plugin>

LoadPlugin cpu
LoadPlugin memory
LoadPlugin df
<Plugin df>
${fsTypes}
  IgnoreSelected true
</Plugin>

<LoadPlugin write_http>
  FlushInterval ${options.intervalSeconds}
</LoadPlugin>
<Plugin write_http>
  <Node "srvutil">
    URL "${options.url}"
    Format "JSON"
    Header "Authorization: Bearer ${options.token}"
    StoreRates false
    BufferSize ${options.bufferSize ?? 1048576}
  </Node>
</Plugin>
`;
}
