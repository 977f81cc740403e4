/**
 * Inside the evaluator's worker thread (./judge-worker.ts): opens the alert
 * reads on a connection of its own and judges the fleet when asked. The
 * hour cache lives here, between evaluations, like it would in the service.
 */
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import type { MessagePort } from "node:worker_threads";
import { openAlertReader } from "../storage/alert-reader.js";
import type { StorageReaderSpec } from "../storage/store.js";
import { FleetJudge, type JudgeSettings } from "./judge.js";
import type { AlertCondition } from "./types.js";

/** No event loop waits here: a few large reads rather than forty small ones at 10,000 servers. */
const WORKER_SLICE_SERVERS = 2_500;
/** How much nicer than the process the rules' thread runs (Linux): when the CPU is short, the uploads' thread goes first. */
export const WORKER_NICE_STEP = 10;

export interface JudgeWorkerData {
  spec: StorageReaderSpec;
  settings: JudgeSettings;
}

export type JudgeRequest =
  | { kind: "judge"; id: number; now: number; openFiring: string[] }
  | { kind: "stop" };

export type JudgeReply =
  | { kind: "ready"; thread: WorkerThread | null }
  | { kind: "failed"; message: string }
  | { kind: "judged"; id: number; conditions: AlertCondition[]; servers: number }
  | { kind: "error"; id: number; message: string };

/** The worker's own thread: its id in /proc/<pid>/task, the nice value it started with (the process's), and its own. */
export interface WorkerThread {
  id: number;
  startNice: number;
  nice: number;
}

/**
 * On Linux a thread has a nice value of its own (setpriority on its thread
 * id), so lowering it leaves the process's other threads as they are: an
 * evaluation takes the CPU the uploads leave, not the other way round.
 * Elsewhere, or where /proc is not mounted, the thread runs at the
 * process's priority (null).
 */
function lowerThreadPriority(): WorkerThread | null {
  if (process.platform !== "linux") return null;
  try {
    const id = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (!Number.isInteger(id) || id <= 0) return null;
    const startNice = getPriority(id);
    setPriority(id, Math.min(19, startNice + WORKER_NICE_STEP));
    return { id, startNice, nice: getPriority(id) };
  } catch {
    return null;
  }
}

export async function serveJudge(port: MessagePort, data: JudgeWorkerData): Promise<void> {
  const reply = (r: JudgeReply) => port.postMessage(r);
  const thread = lowerThreadPriority();
  let reader: Awaited<ReturnType<typeof openAlertReader>>;
  try {
    reader = await openAlertReader(data.spec);
    await reader.lastSeen(); // the connection and the schema answer, before the service relies on them
  } catch (err) {
    reply({ kind: "failed", message: (err as Error).message });
    return;
  }
  const judge = new FleetJudge(reader, data.settings, WORKER_SLICE_SERVERS);
  port.on("message", (req: JudgeRequest) => {
    if (req.kind === "stop") {
      void reader.close().finally(() => port.close());
      return;
    }
    judge.judge(req.now, req.openFiring).then(
      (j) => reply({ kind: "judged", id: req.id, conditions: j.conditions, servers: j.servers }),
      (err: unknown) => reply({ kind: "error", id: req.id, message: (err as Error).message }),
    );
  });
  reply({ kind: "ready", thread });
}
