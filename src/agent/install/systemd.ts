import { posix } from "node:path";

const { join } = posix;

import { type InstallPlan, type InstallSpec, runArguments, serviceEnvironment } from "./types.js";

export const SYSTEMD_UNIT = "srvutil-agent";

/** Quotes one word for a unit file command line (systemd.syntax(7)); `%` is a specifier and is doubled. */
export function systemdQuote(word: string): string {
  const escaped = word.replaceAll("%", "%%");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

export function systemdServiceUnit(spec: InstallSpec): string {
  const exec = [...spec.command, ...runArguments(spec)].map(systemdQuote).join(" ");
  const env = Object.entries(serviceEnvironment(spec))
    .map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`)
    .join("\n");
  const daemon = spec.mode === "service";
  return `# Written by \`srvutil agent install --mode ${spec.mode}\`; remove with \`srvutil agent uninstall\`.
[Unit]
Description=srvutil agent (CPU, memory and disk metrics)
After=network-online.target
Wants=network-online.target

[Service]
Type=${daemon ? "simple" : "oneshot"}
ExecStart=${exec}
${env}
${daemon ? "Restart=on-failure\nRestartSec=30\n# SIGTERM makes the agent spool the current partial sample before exiting.\nKillSignal=SIGTERM\nTimeoutStopSec=30\n" : "TimeoutStartSec=10min\n"}# The agent only reads /proc and statfs, and writes its own directory.
NoNewPrivileges=yes
ProtectSystem=full
ReadWritePaths=${systemdQuote(spec.agentDir)}
PrivateTmp=yes
Nice=10
${daemon ? "\n[Install]\nWantedBy=multi-user.target\n" : ""}`;
}

export function systemdTimerUnit(spec: InstallSpec): string {
  return `# Written by \`srvutil agent install --mode timer\`; remove with \`srvutil agent uninstall\`.
[Unit]
Description=Run the srvutil agent every ${spec.intervalMinutes} minutes

[Timer]
OnBootSec=2min
OnUnitActiveSec=${spec.intervalMinutes}min
# Spread a fleet's uploads instead of every server hitting the central at once.
RandomizedDelaySec=60
AccuracySec=30s

[Install]
WantedBy=timers.target
`;
}

export function systemdPlan(spec: InstallSpec, unitDir = "/etc/systemd/system"): InstallPlan {
  const service = join(unitDir, `${SYSTEMD_UNIT}.service`);
  if (spec.mode === "service") {
    return {
      platform: "linux",
      files: [{ path: service, content: systemdServiceUnit(spec), encoding: "utf8" }],
      activate: [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", `${SYSTEMD_UNIT}.service`],
      ],
      deactivate: [["systemctl", "disable", "--now", `${SYSTEMD_UNIT}.service`]],
    };
  }
  return {
    platform: "linux",
    files: [
      { path: service, content: systemdServiceUnit(spec), encoding: "utf8" },
      { path: join(unitDir, `${SYSTEMD_UNIT}.timer`), content: systemdTimerUnit(spec), encoding: "utf8" },
    ],
    activate: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", `${SYSTEMD_UNIT}.timer`],
    ],
    deactivate: [["systemctl", "disable", "--now", `${SYSTEMD_UNIT}.timer`]],
  };
}

/** What uninstall removes regardless of the mode that was installed. */
export function systemdUninstallPlan(unitDir = "/etc/systemd/system"): InstallPlan {
  return {
    platform: "linux",
    files: [
      { path: join(unitDir, `${SYSTEMD_UNIT}.service`), content: "", encoding: "utf8" },
      { path: join(unitDir, `${SYSTEMD_UNIT}.timer`), content: "", encoding: "utf8" },
    ],
    activate: [["systemctl", "daemon-reload"]],
    deactivate: [
      ["systemctl", "disable", "--now", `${SYSTEMD_UNIT}.timer`],
      ["systemctl", "disable", "--now", `${SYSTEMD_UNIT}.service`],
    ],
  };
}
