import { Worker } from "node:worker_threads";
import { UnavailableError } from "../../errors.js";

/**
 * Makes raw files durable in received_metrics/ without holding the event
 * loop: a worker thread runs the whole sequence with synchronous system
 * calls (mkdir, temp file, write, fsync, rename, directory fsync), several
 * files per message.
 *
 * Why a worker and not fs/promises: one durable file is eight file-system
 * calls (open, write, fsync, close, rename, and open, fsync, close of the
 * directory). Through fs/promises each is a thread-pool round trip with a
 * promise and a callback on the main thread; at 2,000 uploads/s that
 * bookkeeping alone was about a fifth of the central's main thread (bench
 * profile), which the HTTP server and SQLite need. Here the main thread pays
 * one postMessage per batch.
 *
 * Batching: files handed over while every worker is busy wait and go as one
 * batch to the next worker that frees up (like SQLite's group commit), so
 * under load the batch grows instead of the queue of round trips. Within a
 * batch all files are written first and fsynced after, which lets the file
 * system flush them in fewer journal commits.
 *
 * Durability is per file and unchanged: a write resolves only after the
 * file's data is fsynced, it is renamed to its final name, and its directory
 * (and every directory created for it) is fsynced.
 */

export interface RawFileRequest {
  /** Absolute directory of the file. */
  dir: string;
  /** Absolute final path, inside `dir`. */
  file: string;
  bytes: Uint8Array;
  /**
   * The directory may not exist yet: create it with its parents and fsync
   * every directory from its parent up to this root, inclusive. Always the
   * whole chain, not only what this call created: a concurrent write may
   * have created the directory a moment ago without having synced it yet.
   */
  createDirUnder: string | null;
}

/** A write the file system refused (disk full, permissions); nothing of the file is left behind. */
export class RawFileWriteError extends UnavailableError {
  constructor(
    readonly file: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(`could not store raw file ${file}: ${message}`);
  }
}

type Op =
  | { op: "write"; dir: string; file: string; bytes: ArrayBuffer; createDirUnder: string | null }
  | { op: "unlink"; dir: string; file: string };

interface Job {
  op: Op;
  resolve: () => void;
  reject: (err: Error) => void;
}

type Outcome = null | { code: string | undefined; message: string };

/** Plain CommonJS, evaluated in the worker: only node:fs and node:path. */
const WORKER_SOURCE = `
const fs = require("node:fs");
const path = require("node:path");
const { parentPort, workerData } = require("node:worker_threads");
const syncDirs = workerData.syncDirs;
const fail = (err) => ({ code: err && err.code, message: String((err && err.message) || err) });
function fsyncDir(dir) {
  if (!syncDirs) return;
  const fd = fs.openSync(dir, "r");
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
function writeAll(fd, bytes) {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}
parentPort.on("message", ({ id, ops }) => {
  const out = new Array(ops.length).fill(null);
  const open = new Array(ops.length).fill(null);
  const dirs = new Set();
  // 1. Directories, temp files and their bytes, no fsync yet.
  ops.forEach((o, i) => {
    try {
      if (o.op === "unlink") {
        fs.rmSync(o.file, { force: true });
        dirs.add(o.dir);
        return;
      }
      const root = o.createDirUnder;
      if (root !== null) {
        // A new directory entry is durable once its parent is synced.
        const created = fs.mkdirSync(o.dir, { recursive: true });
        for (let d = o.dir; d.length > root.length; d = path.dirname(d)) dirs.add(path.dirname(d));
        if (created !== undefined && created.length <= root.length) {
          for (let d = root; d.length >= created.length; d = path.dirname(d)) dirs.add(path.dirname(d));
        }
      }
      const tmp = o.file + ".tmp-" + process.pid;
      const fd = fs.openSync(tmp, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o640);
      open[i] = { fd, tmp };
      writeAll(fd, new Uint8Array(o.bytes));
    } catch (err) {
      out[i] = fail(err);
    }
  });
  // 2. fsync and rename each file; a failure removes its temp file.
  ops.forEach((o, i) => {
    const f = open[i];
    if (f === null) return;
    try {
      if (out[i] === null) {
        fs.fsyncSync(f.fd);
        fs.closeSync(f.fd);
        f.fd = -1;
        fs.renameSync(f.tmp, o.file);
        dirs.add(o.dir);
        return;
      }
    } catch (err) {
      out[i] = fail(err);
    }
    if (f.fd !== -1) try { fs.closeSync(f.fd); } catch {}
    try { fs.rmSync(f.tmp, { force: true }); } catch {}
  });
  // 3. One fsync per directory makes every rename (and new directory) in it durable.
  const dirFailure = new Map();
  for (const d of dirs) {
    try { fsyncDir(d); } catch (err) { dirFailure.set(d, fail(err)); }
  }
  ops.forEach((o, i) => {
    if (out[i] === null && dirFailure.has(o.dir)) out[i] = dirFailure.get(o.dir);
  });
  parentPort.postMessage({ id, out });
});
`;

interface Slot {
  worker: Worker;
  busy: boolean;
  inFlight: Map<number, Job[]>;
}

export class RawFileWriter {
  private readonly slots: Slot[] = [];
  private queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private flushScheduled = false;

  /** `workers`: threads writing in parallel; each batch is one thread's work. */
  constructor(private readonly workers = 2) {}

  /** Starts the writer threads now, so the first upload does not wait for a thread to boot. */
  warmUp(): void {
    while (!this.closed && this.slots.length < Math.max(1, this.workers)) this.spawn();
  }

  /** Writes one raw file durably; rejects with RawFileWriteError and leaves nothing behind. */
  write(req: RawFileRequest): Promise<void> {
    // A copy the worker owns: the caller's buffer may be a view into a shared pool.
    const copy = new Uint8Array(req.bytes.byteLength);
    copy.set(req.bytes);
    return this.enqueue({
      op: "write",
      dir: req.dir,
      file: req.file,
      bytes: copy.buffer,
      createDirUnder: req.createDirUnder,
    });
  }

  /** Removes a raw file and syncs its directory (undoing a write whose rows could not be stored). */
  unlink(dir: string, file: string): Promise<void> {
    return this.enqueue({ op: "unlink", dir, file });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Let queued and in-flight writes finish: their callers are waiting.
    while (this.queue.length > 0 || this.slots.some((s) => s.busy)) {
      this.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private enqueue(op: Op): Promise<void> {
    if (this.closed && this.slots.length === 0) {
      return Promise.reject(new Error("RawFileWriter is closed"));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Collect everything handed over in this turn of the event loop into one batch.
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const slot = this.idleSlot();
      if (slot === null) return; // the next reply flushes again
      const jobs = this.queue;
      this.queue = [];
      const id = this.nextId++;
      slot.busy = true;
      slot.inFlight.set(id, jobs);
      const ops = jobs.map((j) => j.op);
      const transfer = ops.flatMap((o) => (o.op === "write" ? [o.bytes] : []));
      slot.worker.postMessage({ id, ops }, transfer);
    }
  }

  private idleSlot(): Slot | null {
    for (const s of this.slots) if (!s.busy) return s;
    if (this.slots.length < Math.max(1, this.workers)) return this.spawn();
    return null;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Windows cannot open a directory for fsync; NTFS journals its metadata.
      workerData: { syncDirs: process.platform !== "win32" },
    });
    worker.unref();
    const slot: Slot = { worker, busy: false, inFlight: new Map() };
    worker.on("message", (msg: { id: number; out: Outcome[] }) => {
      const jobs = slot.inFlight.get(msg.id);
      slot.inFlight.delete(msg.id);
      slot.busy = false;
      jobs?.forEach((job, i) => {
        const o = msg.out[i];
        if (o === null || o === undefined) job.resolve();
        else job.reject(new RawFileWriteError(job.op.file, o.code, o.message));
      });
      this.flush();
    });
    const die = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      for (const jobs of slot.inFlight.values()) {
        for (const job of jobs) job.reject(new RawFileWriteError(job.op.file, undefined, err.message));
      }
      slot.inFlight.clear();
      this.flush(); // a new worker takes over what is queued
    };
    worker.on("error", die);
    worker.on("exit", () => die(new Error("raw file writer thread exited")));
    this.slots.push(slot);
    return slot;
  }
}
