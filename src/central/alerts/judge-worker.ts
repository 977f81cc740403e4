/**
 * The rules' half of an evaluation (./judge.ts) on a worker thread, so the
 * reads and fits over the whole fleet (about 0.6 s at 10,000 servers) do
 * not hold the event loop that answers uploads. The worker opens its own
 * connection (storage/alert-reader.ts: SQLite read-only on the same file,
 * PostgreSQL a pool of two) and keeps the hour cache between evaluations.
 *
 * If the worker cannot start (its module not loadable, the database not
 * openable from another thread), the judge says so once in the log and
 * judges in the calling thread from then on: same conditions, only slower
 * uploads while it runs. A worker that dies mid-evaluation fails that
 * evaluation (logged; the next one a minute later starts a new worker).
 */
import { Worker } from "node:worker_threads";
import type { AutomationLog } from "../automation-log.js";
import type { StorageReaderSpec } from "../storage/store.js";
import { IMPORT_TARGET_SOURCE, workerModuleTarget } from "../worker-module.js";
import type { Judge, Judgement, JudgeSettings } from "./judge.js";
import type { JudgeReply, JudgeRequest, JudgeWorkerData, WorkerThread } from "./judge-worker-main.js";

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
${IMPORT_TARGET_SOURCE}.then(
  (m) => m.serveJudge(parentPort, workerData),
  (err) => parentPort.postMessage({ kind: "failed", message: String((err && err.message) || err) }),
);
`;

/**
 * Below this many servers the judging stays in the calling thread: it costs
 * a few milliseconds there (about 60 ms at 1,000 servers), less than a
 * worker's memory and second connection are worth.
 */
export const WORKER_MIN_SERVERS = 500;

export interface WorkerJudgeOptions {
  /** The worker's module (tests point it elsewhere to see the fallback). */
  moduleUrl?: string;
  /** Default WORKER_MIN_SERVERS (tests: 0). */
  minServers?: number;
}

/** How long a new worker may take to load and open its connection. */
const START_TIMEOUT_MS = 30_000;

interface Running {
  worker: Worker;
  waiting: Map<number, { resolve: (j: Judgement) => void; reject: (err: Error) => void }>;
}

export class WorkerJudge implements Judge {
  private running: Promise<Running> | null = null;
  private nextId = 1;
  private fellBack = false;
  private closed = false;

  /** Servers at the last judgement; the first one is judged inline (a fleet of unknown size). */
  private lastServers = 0;
  private lastMode: "worker" | "inline" = "inline";
  private thread: WorkerThread | null = null;
  private readonly moduleUrl: string;
  private readonly minServers: number;

  constructor(
    private readonly spec: StorageReaderSpec,
    private readonly settings: JudgeSettings,
    /** Judges in the calling thread: small fleets, and when the worker cannot start. */
    private readonly inline: Judge,
    private readonly log: AutomationLog | null,
    options: WorkerJudgeOptions = {},
  ) {
    this.moduleUrl = options.moduleUrl ?? new URL("./judge-worker-main.js", import.meta.url).href;
    this.minServers = options.minServers ?? WORKER_MIN_SERVERS;
  }

  /** The worker's thread and its nice value, once it runs (Linux); null before, and elsewhere. */
  get workerThread(): WorkerThread | null {
    return this.thread;
  }

  /** Where the last judgement ran. */
  get mode(): "worker" | "inline" {
    return this.lastMode;
  }

  async judge(now: number, openFiring: readonly string[]): Promise<Judgement> {
    const onWorker = !this.fellBack && this.lastServers >= this.minServers;
    const judgement = onWorker
      ? await this.onWorker(now, openFiring)
      : await this.inline.judge(now, openFiring);
    this.lastServers = judgement.servers;
    return judgement;
  }

  private async onWorker(now: number, openFiring: readonly string[]): Promise<Judgement> {
    let running: Running;
    this.lastMode = "inline";
    try {
      running = await this.start();
    } catch (err) {
      this.fellBack = true;
      this.log?.warn("alerts: the evaluation worker cannot start; evaluating on the main thread", {
        error: (err as Error).message,
      });
      this.lastMode = "inline";
      return this.inline.judge(now, openFiring);
    }
    this.lastMode = "worker";
    const id = this.nextId++;
    return new Promise<Judgement>((resolve, reject) => {
      running.waiting.set(id, { resolve, reject });
      const request: JudgeRequest = { kind: "judge", id, now, openFiring: [...openFiring] };
      running.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = await this.running?.catch(() => null);
    this.running = null;
    if (running != null) {
      const exited = new Promise<void>((resolve) => running.worker.once("exit", () => resolve()));
      running.worker.postMessage({ kind: "stop" } satisfies JudgeRequest);
      const timer = setTimeout(() => void running.worker.terminate(), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await this.inline.close();
  }

  private start(): Promise<Running> {
    if (this.closed) return Promise.reject(new Error("the judge is closed"));
    this.running ??= new Promise<Running>((resolve, reject) => {
      const data: JudgeWorkerData & { target: ReturnType<typeof workerModuleTarget> } = {
        spec: this.spec,
        settings: this.settings,
        target: workerModuleTarget(this.moduleUrl),
      };
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: data });
      worker.unref(); // an evaluation in flight does not keep a stopping process alive
      const running: Running = { worker, waiting: new Map() };
      let ready = false;
      const timer = setTimeout(() => {
        if (!ready) void worker.terminate();
      }, START_TIMEOUT_MS);
      worker.on("message", (reply: JudgeReply) => {
        switch (reply.kind) {
          case "ready":
            ready = true;
            this.thread = reply.thread;
            clearTimeout(timer);
            resolve(running);
            return;
          case "failed":
            clearTimeout(timer);
            reject(new Error(reply.message));
            void worker.terminate();
            return;
          case "judged":
            running.waiting.get(reply.id)?.resolve({ conditions: reply.conditions, servers: reply.servers });
            running.waiting.delete(reply.id);
            return;
          case "error":
            running.waiting.get(reply.id)?.reject(new Error(reply.message));
            running.waiting.delete(reply.id);
            return;
        }
      });
      worker.on("error", (err) => {
        if (!ready) reject(err);
      });
      worker.on("exit", (code) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`the evaluation worker exited (code ${code}) before it was ready`));
        for (const w of running.waiting.values())
          w.reject(new Error(`the evaluation worker exited (code ${code})`));
        running.waiting.clear();
        // The next evaluation starts a new one.
        if (this.running !== null && ready) this.running = null;
      });
    });
    return this.running;
  }
}
