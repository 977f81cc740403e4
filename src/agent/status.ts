import { open } from "node:fs/promises";
import { join } from "node:path";
import { formatTimestamp } from "../protocol/index.js";
import type { AgentConfig } from "./config.js";
import { agentPaths } from "./once.js";
import { SpoolDirectory } from "./spool.js";

export interface AgentStatus {
  serverName: string;
  agentDir: string;
  configFile: string | null;
  centralUrl: string | null;
  pendingFiles: number;
  pendingBytes: number;
  oldestPending: number | null;
  newestPending: number | null;
  rejectedFiles: number;
  /** The last `upload_ok` log line's time, and the last warning or error, if any. */
  lastUpload: string | null;
  lastProblem: string | null;
}

const LOG_TAIL_BYTES = 256 * 1024;

/** What an operator asks first: is the spool draining, when did the last upload work, what went wrong. */
export async function agentStatus(config: AgentConfig): Promise<AgentStatus> {
  const paths = agentPaths(config.agentDir);
  const spool = new SpoolDirectory(paths.metrics, config.spool);
  const pending = await spool.list();
  const rejected = await spool.listRejected();
  let lastUpload: string | null = null;
  let lastProblem: string | null = null;
  for (const line of (await tail(join(paths.logs, "agent.log"))).split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line) as { time?: string; level?: string; event?: string; msg?: string };
      if (entry.event === "upload_ok") lastUpload = entry.time ?? null;
      if (entry.level === "warn" || entry.level === "error") lastProblem = `${entry.time} ${entry.msg}`;
    } catch {
      // the tail's first line is usually cut
    }
  }
  return {
    serverName: config.serverName,
    agentDir: config.agentDir,
    configFile: config.configFile,
    centralUrl: config.centralUrl === "" ? null : config.centralUrl,
    pendingFiles: pending.length,
    pendingBytes: pending.reduce((s, f) => s + f.bytes, 0),
    oldestPending: pending[0]?.timestamp ?? null,
    newestPending: pending.at(-1)?.timestamp ?? null,
    rejectedFiles: rejected.length,
    lastUpload,
    lastProblem,
  };
}

export function formatAgentStatus(s: AgentStatus): string {
  const when = (t: number | null) => (t === null ? "-" : formatTimestamp(t));
  return [
    `server          ${s.serverName}`,
    `central         ${s.centralUrl ?? "(not configured)"}`,
    `agent dir       ${s.agentDir}`,
    `config file     ${s.configFile ?? "(none)"}`,
    `spool           ${s.pendingFiles} file(s), ${s.pendingBytes} bytes` +
      (s.pendingFiles > 0 ? `, samples ${when(s.oldestPending)} … ${when(s.newestPending)}` : ""),
    `rejected        ${s.rejectedFiles} file(s)${s.rejectedFiles > 0 ? " (see metrics/rejected/*.error.txt)" : ""}`,
    `last upload     ${s.lastUpload ?? "-"}`,
    `last problem    ${s.lastProblem ?? "-"}`,
  ].join("\n");
}

async function tail(path: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch {
    return "";
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString("utf8");
  } finally {
    await handle.close();
  }
}
