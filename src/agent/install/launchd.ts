import { posix } from "node:path";

const { join } = posix;

import { type InstallPlan, type InstallSpec, runArguments, serviceEnvironment } from "./types.js";

export const LAUNCHD_LABEL = "com.srvutil.agent";

export function xmlEscape(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

export function launchdPlist(spec: InstallSpec): string {
  const args = [...spec.command, ...runArguments(spec)]
    .map((a) => `    <string>${xmlEscape(a)}</string>`)
    .join("\n");
  const env = Object.entries(serviceEnvironment(spec))
    .map(([k, v]) => `    <key>${xmlEscape(k)}</key>\n    <string>${xmlEscape(v)}</string>`)
    .join("\n");
  const schedule =
    spec.mode === "service"
      ? "  <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n  <key>ThrottleInterval</key>\n  <integer>30</integer>"
      : `  <key>StartInterval</key>\n  <integer>${spec.intervalMinutes * 60}</integer>`;
  const logDir = join(spec.agentDir, "Logs");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by srvutil agent install (mode ${spec.mode}); remove with srvutil agent uninstall. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
${env}
  </dict>
  <key>RunAtLoad</key>
  <true/>
${schedule}
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardOutPath</key>
  <string>${xmlEscape(join(logDir, "launchd.out.log"))}</string>
  <key>StandardErrorPath</key>
  <string>${xmlEscape(join(logDir, "launchd.err.log"))}</string>
</dict>
</plist>
`;
}

export function launchdPlan(spec: InstallSpec, daemonDir = "/Library/LaunchDaemons"): InstallPlan {
  const path = join(daemonDir, `${LAUNCHD_LABEL}.plist`);
  return {
    platform: "darwin",
    files: [{ path, content: launchdPlist(spec), encoding: "utf8" }],
    activate: [["launchctl", "bootstrap", "system", path]],
    deactivate: [["launchctl", "bootout", `system/${LAUNCHD_LABEL}`]],
  };
}

export function launchdUninstallPlan(daemonDir = "/Library/LaunchDaemons"): InstallPlan {
  const plan = launchdPlan(
    { mode: "service", command: [], agentDir: "/", configFile: null, intervalMinutes: 20 },
    daemonDir,
  );
  return { ...plan, activate: [] };
}
