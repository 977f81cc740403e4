import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RawFileWriteError, RawFileWriter } from "../../../src/central/ingest/raw-file-writer.js";

let root: string;
let writer: RawFileWriter;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "srvutil-raw-"));
  writer = new RawFileWriter(2);
});
afterEach(async () => {
  await writer.close();
  rmSync(root, { recursive: true, force: true });
});

const allFiles = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();

describe("RawFileWriter", () => {
  it("writes many concurrent files into new and existing directories, byte for byte", async () => {
    const writes = Array.from({ length: 300 }, (_, i) => {
      const dir = path.join(root, `server-${i % 40}`, "2026-11-25");
      const bytes = Buffer.from(`file ${i}\n`.repeat(1 + (i % 7)));
      // A pooled Buffer view: the writer must copy exactly its bytes, not the whole pool.
      return { dir, file: path.join(dir, `u${i}.csv`), bytes, createDirUnder: root };
    });
    await Promise.all(writes.map((w) => writer.write(w)));
    for (const w of writes) expect(readFileSync(w.file)).toEqual(w.bytes);
    expect(allFiles(root).filter((f) => f.includes(".tmp-"))).toEqual([]);
    expect(allFiles(root).filter((f) => f.endsWith(".csv"))).toHaveLength(300);
  });

  it("refuses a file it cannot write with a typed error and leaves nothing behind, without failing its batch", async () => {
    const blocked = path.join(root, "blocked");
    writeFileSync(blocked, "a file where a directory should be");
    const okDir = path.join(root, "ok", "2026-11-25");
    const results = await Promise.allSettled([
      writer.write({
        dir: okDir,
        file: path.join(okDir, "a.csv"),
        bytes: Buffer.from("a"),
        createDirUnder: root,
      }),
      writer.write({
        dir: path.join(blocked, "2026-11-25"),
        file: path.join(blocked, "2026-11-25", "b.csv"),
        bytes: Buffer.from("b"),
        createDirUnder: root,
      }),
      writer.write({
        dir: okDir,
        file: path.join(okDir, "c.csv"),
        bytes: Buffer.from("c"),
        createDirUnder: null,
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const err = (results[1] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(RawFileWriteError);
    expect(err.code).toBe("ENOTDIR");
    expect(err.message).toContain("b.csv");
    expect(allFiles(root)).toEqual([
      "blocked",
      "ok",
      "ok/2026-11-25",
      "ok/2026-11-25/a.csv",
      "ok/2026-11-25/c.csv",
    ]);
  });

  it("unlinks a file and tolerates one that is already gone", async () => {
    const dir = path.join(root, "s", "d");
    await writer.write({ dir, file: path.join(dir, "x.csv"), bytes: Buffer.from("x"), createDirUnder: root });
    await writer.unlink(dir, path.join(dir, "x.csv"));
    await writer.unlink(dir, path.join(dir, "x.csv"));
    expect(existsSync(path.join(dir, "x.csv"))).toBe(false);
  });

  it("finishes queued writes before close() resolves, then refuses new ones", async () => {
    const dir = path.join(root, "s", "d");
    const pending = Array.from({ length: 50 }, (_, i) =>
      writer.write({
        dir,
        file: path.join(dir, `f${i}.csv`),
        bytes: Buffer.from(String(i)),
        createDirUnder: root,
      }),
    );
    await writer.close();
    await Promise.all(pending);
    expect(allFiles(dir)).toHaveLength(50);
    await expect(
      writer.write({ dir, file: path.join(dir, "late.csv"), bytes: Buffer.from("x"), createDirUnder: null }),
    ).rejects.toThrow(/closed/);
  });
});
