import { Worker } from "node:worker_threads";
import {
  type CsvErrorReason,
  CsvValidationError,
  type MetricRow,
  type ParseOptions,
} from "../../protocol/index.js";
import { IMPORT_TARGET_SOURCE, workerModuleTarget } from "../worker-module.js";

/**
 * Parses large files on worker threads so a 10,000-row backlog file does not
 * hold the event loop (and every other upload) for tens of milliseconds, and
 * so parsing one file overlaps with inserting another. Rows come back in
 * columns (one transferred Float64Array plus the mount strings) because
 * structured-cloning 10,000 row objects costs about as much as parsing them.
 *
 * If the workers cannot start (e.g. the protocol module cannot be loaded in
 * a worker under a test runner's transform), parsing silently stays inline:
 * same results, just on the main thread.
 */

/** Bodies smaller than this are parsed inline: a round trip to a worker costs more. */
export const WORKER_PARSE_MIN_BYTES = 256 * 1024;

const NUMERIC_COLUMNS = 10;

/** CommonJS, so it runs without a TypeScript loader; it imports the parser module by URL. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
// Running from source (tsx, tests): the worker has no TypeScript loader of its own (workerModuleTarget).
const ready = ${IMPORT_TARGET_SOURCE};
parentPort.on("message", async (msg) => {
  let protocol;
  try {
    protocol = await ready;
  } catch (err) {
    parentPort.postMessage({ id: msg.id, kind: "unavailable", message: String(err && err.message) });
    return;
  }
  try {
    const rows = protocol.parseMetricsCsv(new Uint8Array(msg.bytes), msg.options).rows;
    const n = rows.length;
    const nums = new Float64Array(n * ${NUMERIC_COLUMNS});
    const mounts = new Array(n);
    let servers = null;
    const first = n > 0 ? rows[0].server : "";
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      const o = i * ${NUMERIC_COLUMNS};
      nums[o] = r.timestamp; nums[o + 1] = r.cpuPercent;
      nums[o + 2] = r.cpuPeakPercent === null ? NaN : r.cpuPeakPercent;
      nums[o + 3] = r.intervalSeconds === null ? NaN : r.intervalSeconds;
      nums[o + 4] = r.memTotalBytes; nums[o + 5] = r.memUsedBytes; nums[o + 6] = r.memAvailableBytes;
      nums[o + 7] = r.diskTotalBytes; nums[o + 8] = r.diskUsedBytes; nums[o + 9] = r.diskFreeBytes;
      mounts[i] = r.diskMount;
      if (servers === null && r.server !== first) servers = rows.map((x) => x.server);
    }
    parentPort.postMessage({ id: msg.id, kind: "ok", n, nums: nums.buffer, mounts, server: first, servers }, [nums.buffer]);
  } catch (err) {
    if (err && err.name === "CsvValidationError") {
      parentPort.postMessage({ id: msg.id, kind: "invalid", reason: err.reason, message: err.message,
        line: err.line, column: err.column, field: err.field });
    } else {
      parentPort.postMessage({ id: msg.id, kind: "crash", message: String(err && err.stack || err) });
    }
  }
});
`;

type WorkerReply =
  | {
      id: number;
      kind: "ok";
      n: number;
      nums: ArrayBuffer;
      mounts: string[];
      server: string;
      servers: string[] | null;
    }
  | {
      id: number;
      kind: "invalid";
      reason: CsvErrorReason;
      message: string;
      line: number | null;
      column: string | null;
      field: number | null;
    }
  | { id: number; kind: "unavailable" | "crash"; message: string };

interface Slot {
  worker: Worker;
  busy: number;
}

export class ParsePool {
  private slots: Slot[] = [];
  private disabled = false;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: WorkerReply) => void; slot: Slot }>();

  constructor(
    private readonly size: number,
    private readonly inline: (bytes: Uint8Array, options: ParseOptions) => MetricRow[],
    /** The module exporting parseMetricsCsv (the protocol). */
    private readonly protocolUrl: string = new URL("../../protocol/index.js", import.meta.url).href,
  ) {
    if (size <= 0) this.disabled = true;
  }

  async parse(bytes: Uint8Array, options: ParseOptions): Promise<MetricRow[]> {
    if (this.disabled || bytes.byteLength < WORKER_PARSE_MIN_BYTES) return this.inline(bytes, options);
    const slot = this.pickSlot();
    if (slot === null) return this.inline(bytes, options);
    const reply = await this.roundTrip(slot, bytes, options);
    switch (reply.kind) {
      case "ok":
        return rowsFromColumns(reply);
      case "invalid":
        throw new CsvValidationError(reply.reason, reply.message, reply.line, reply.column, reply.field);
      default:
        // The worker cannot parse (module not loadable here) or failed
        // unexpectedly: fall back to inline parsing, which gives the same
        // answer or the same error.
        return this.inline(bytes, options);
    }
  }

  /**
   * Starts the workers and loads the parser in them now, so the first large
   * upload does not pay for it. Resolves when they answered (or fell back).
   */
  async warmUp(): Promise<void> {
    if (this.disabled) return;
    const tiny = new TextEncoder().encode("x\n");
    const pings: Promise<unknown>[] = [];
    while (this.slots.length < this.size && !this.disabled) {
      const slot = this.pickSlot();
      if (slot === null) break;
      pings.push(this.roundTrip(slot, tiny, {}));
    }
    await Promise.all(pings);
  }

  private roundTrip(slot: Slot, bytes: Uint8Array, options: ParseOptions): Promise<WorkerReply> {
    const id = this.nextId++;
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return new Promise<WorkerReply>((resolve) => {
      this.waiting.set(id, { resolve, slot });
      slot.busy++;
      slot.worker.postMessage({ id, bytes: copy.buffer, options }, [copy.buffer]);
    }).then((reply) => {
      if (reply.kind === "unavailable") this.disable();
      return reply;
    });
  }

  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    this.disabled = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pickSlot(): Slot | null {
    if (this.slots.length < this.size) {
      try {
        const worker = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { target: workerModuleTarget(this.protocolUrl) },
        });
        worker.unref();
        const slot: Slot = { worker, busy: 0 };
        worker.on("message", (reply: WorkerReply) => {
          const w = this.waiting.get(reply.id);
          if (w === undefined) return;
          this.waiting.delete(reply.id);
          w.slot.busy--;
          w.resolve(reply);
        });
        worker.on("error", (err) => this.failSlot(slot, err));
        worker.on("exit", () => this.failSlot(slot, new Error("parse worker exited")));
        this.slots.push(slot);
        return slot;
      } catch {
        this.disable();
        return null;
      }
    }
    let best: Slot | null = null;
    for (const s of this.slots) if (best === null || s.busy < best.busy) best = s;
    return best;
  }

  /** Answers every request of a dead worker with "crash" so the callers parse inline. */
  private failSlot(slot: Slot, err: Error): void {
    this.slots = this.slots.filter((s) => s !== slot);
    for (const [id, w] of this.waiting) {
      if (w.slot !== slot) continue;
      this.waiting.delete(id);
      w.resolve({ id, kind: "crash", message: err.message });
    }
  }

  private disable(): void {
    this.disabled = true;
    void this.close();
  }
}

function rowsFromColumns(reply: Extract<WorkerReply, { kind: "ok" }>): MetricRow[] {
  const nums = new Float64Array(reply.nums);
  const rows: MetricRow[] = new Array(reply.n);
  for (let i = 0; i < reply.n; i++) {
    const o = i * NUMERIC_COLUMNS;
    const peak = nums[o + 2]!;
    const interval = nums[o + 3]!;
    rows[i] = {
      timestamp: nums[o]!,
      server: reply.servers === null ? reply.server : reply.servers[i]!,
      cpuPercent: nums[o + 1]!,
      cpuPeakPercent: Number.isNaN(peak) ? null : peak,
      intervalSeconds: Number.isNaN(interval) ? null : interval,
      memTotalBytes: nums[o + 4]!,
      memUsedBytes: nums[o + 5]!,
      memAvailableBytes: nums[o + 6]!,
      diskMount: reply.mounts[i]!,
      diskTotalBytes: nums[o + 7]!,
      diskUsedBytes: nums[o + 8]!,
      diskFreeBytes: nums[o + 9]!,
    };
  }
  return rows;
}
