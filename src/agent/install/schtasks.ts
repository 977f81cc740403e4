// Host path rules: the XML is written on the machine running install.
import { join } from "node:path";
import { xmlEscape } from "./launchd.js";
import { type InstallPlan, type InstallSpec, runArguments, serviceEnvironment } from "./types.js";

export const SCHTASKS_NAME = "srvutil-agent";

/** Quotes one argument the way the Microsoft C runtime splits command lines. */
export function windowsQuote(arg: string): string {
  if (arg !== "" && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const ch of arg) {
    if (ch === "\\") {
      backslashes++;
      continue;
    }
    if (ch === '"') {
      out += "\\".repeat(backslashes * 2 + 1) + '"';
    } else {
      out += "\\".repeat(backslashes) + ch;
    }
    backslashes = 0;
  }
  return `${out}${"\\".repeat(backslashes * 2)}"`;
}

/**
 * Task Scheduler XML (schema 1.2). Timer mode: `run --once` every
 * intervalMinutes, forever, as SYSTEM. Service mode: the daemon started at
 * boot and restarted on failure. Task Scheduler has no environment block, so
 * the agent directory (and config file) are passed as flags.
 */
export function schtasksXml(spec: InstallSpec): string {
  const [program, ...lead] = spec.command;
  const env = serviceEnvironment(spec);
  const flags = ["--agent-dir", env.SRVUTIL_AGENT_DIR!];
  if (env.SRVUTIL_AGENT_CONFIG) flags.push("--config", env.SRVUTIL_AGENT_CONFIG);
  const args = [...lead, ...runArguments(spec), ...flags].map(windowsQuote).join(" ");
  const start = "2026-01-01T00:00:00";
  const trigger =
    spec.mode === "timer"
      ? `    <TimeTrigger>
      <StartBoundary>${start}</StartBoundary>
      <Repetition>
        <Interval>PT${spec.intervalMinutes}M</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
      <RandomDelay>PT1M</RandomDelay>
      <Enabled>true</Enabled>
    </TimeTrigger>`
      : `    <BootTrigger>
      <Enabled>true</Enabled>
    </BootTrigger>`;
  return `<?xml version="1.0" encoding="UTF-16"?>
<!-- Written by srvutil agent install (mode ${spec.mode}); remove with srvutil agent uninstall. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>srvutil agent: CPU, memory and disk metrics for the weekly report</Description>
    <URI>\\${SCHTASKS_NAME}</URI>
  </RegistrationInfo>
  <Triggers>
${trigger}
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
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <ExecutionTimeLimit>${spec.mode === "timer" ? "PT15M" : "PT0S"}</ExecutionTimeLimit>
    <Priority>7</Priority>${
      spec.mode === "service"
        ? `
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>`
        : ""
    }
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xmlEscape(program ?? "node.exe")}</Command>
      <Arguments>${xmlEscape(args)}</Arguments>
      <WorkingDirectory>${xmlEscape(spec.agentDir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
`;
}

export function schtasksPlan(spec: InstallSpec, xmlDir = spec.agentDir): InstallPlan {
  const path = join(xmlDir, `${SCHTASKS_NAME}.task.xml`);
  return {
    platform: "win32",
    files: [{ path, content: schtasksXml(spec), encoding: "utf16le" }],
    // A boot trigger alone would first run the agent at the next reboot: start it now too.
    activate: [
      ["schtasks", "/Create", "/TN", SCHTASKS_NAME, "/XML", path, "/F"],
      ["schtasks", "/Run", "/TN", SCHTASKS_NAME],
    ],
    deactivate: [
      ["schtasks", "/End", "/TN", SCHTASKS_NAME],
      ["schtasks", "/Delete", "/TN", SCHTASKS_NAME, "/F"],
    ],
  };
}

export function schtasksUninstallPlan(xmlDir: string): InstallPlan {
  return {
    platform: "win32",
    files: [{ path: join(xmlDir, `${SCHTASKS_NAME}.task.xml`), content: "", encoding: "utf16le" }],
    activate: [],
    deactivate: [
      ["schtasks", "/End", "/TN", SCHTASKS_NAME],
      ["schtasks", "/Delete", "/TN", SCHTASKS_NAME, "/F"],
    ],
  };
}
