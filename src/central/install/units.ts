import { xmlEscape } from "../../agent/install/launchd.js";
import { windowsQuote } from "../../agent/install/schtasks.js";
import { systemdQuote } from "../../agent/install/systemd.js";

/**
 * The service definitions of `srvutil central install`: a systemd unit
 * (Linux), a launchd daemon (macOS), a Task Scheduler task at boot (Windows).
 * Each starts `srvutil central serve` with the settings of one env file
 * (./env-file.ts) and restarts it when it fails.
 */
export interface CentralServiceSpec {
  /** Program and leading arguments that run the CLI, e.g. [node, /opt/srvutil/bin/srvutil.js]. */
  command: readonly string[];
  /** The settings and secrets (mode 0600). */
  envFile: string;
  /** SRVUTIL_DATA_DIR: the only directory the service writes. */
  dataDir: string;
  /** Other directories it writes (a SQLite database outside the data dir). */
  extraWritablePaths: readonly string[];
  /** The account it runs as (Linux, macOS); Windows runs it as SYSTEM. */
  user: string;
  /** Port it listens on: below 1024 it needs CAP_NET_BIND_SERVICE on Linux. */
  port: number;
}

export const CENTRAL_UNIT = "srvutil-central";
export const CENTRAL_LAUNCHD_LABEL = "com.srvutil.central";
export const CENTRAL_TASK = "srvutil-central";

export function centralSystemdUnit(spec: CentralServiceSpec): string {
  const exec = [...spec.command, "central", "serve"].map(systemdQuote).join(" ");
  const writable = [spec.dataDir, ...spec.extraWritablePaths].map(systemdQuote).join(" ");
  return `# Written by \`srvutil central install\`; remove with \`srvutil central uninstall\`.
[Unit]
Description=srvutil central (metrics API, weekly report)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${systemdQuote(spec.user)}
Group=${systemdQuote(spec.user)}
# Settings and secrets (mode 0600, read by systemd before it drops to the user above).
EnvironmentFile=${unitPath(spec.envFile)}
ExecStart=${exec}
WorkingDirectory=${unitPath(spec.dataDir)}
Restart=on-failure
RestartSec=5
# SIGTERM: stop accepting uploads, finish the ones in flight, close the database.
KillSignal=SIGTERM
TimeoutStopSec=30
UMask=0027
LimitNOFILE=65536
${spec.port < 1024 ? "AmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" : "CapabilityBoundingSet=\n"}# The whole file system is read-only for the service except its data.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${writable}
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX

[Install]
WantedBy=multi-user.target
`;
}

/** A single path setting: taken to the end of the line (no quotes), `%` is a specifier. */
function unitPath(p: string): string {
  return p.replaceAll("%", "%%");
}

export function centralLaunchdPlist(spec: CentralServiceSpec, logDir: string): string {
  const args = [...spec.command, "central", "serve", "--settings", spec.envFile]
    .map((a) => `    <string>${xmlEscape(a)}</string>`)
    .join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by srvutil central install; remove with srvutil central uninstall. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${CENTRAL_LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>UserName</key>
  <string>${xmlEscape(spec.user)}</string>
  <key>WorkingDirectory</key>
  <string>${xmlEscape(spec.dataDir)}</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>10</integer>
  <key>StandardOutPath</key>
  <string>${xmlEscape(`${logDir}/launchd.out.log`)}</string>
  <key>StandardErrorPath</key>
  <string>${xmlEscape(`${logDir}/launchd.err.log`)}</string>
</dict>
</plist>
`;
}

/** Task Scheduler XML (schema 1.2): at boot, as SYSTEM, restarted every minute when it fails. */
export function centralTaskXml(spec: CentralServiceSpec): string {
  const [program, ...lead] = spec.command;
  const args = [...lead, "central", "serve", "--settings", spec.envFile].map(windowsQuote).join(" ");
  return `<?xml version="1.0" encoding="UTF-16"?>
<!-- Written by srvutil central install; remove with srvutil central uninstall. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>srvutil central: metrics API and weekly report</Description>
    <URI>\\${CENTRAL_TASK}</URI>
  </RegistrationInfo>
  <Triggers>
    <BootTrigger>
      <Enabled>true</Enabled>
    </BootTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>5</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xmlEscape(program ?? "node.exe")}</Command>
      <Arguments>${xmlEscape(args)}</Arguments>
      <WorkingDirectory>${xmlEscape(spec.dataDir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
`;
}
