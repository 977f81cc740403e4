/**
 * Fuzz: the seed bridge, POST /upload_metrics (multipart: `server_name` and
 * `file`), as `central serve` runs it with SRVUTIL_SEED_COMPAT=on (issue 24,
 * point 5). Seed files with hostile lines (fields, disk_info_json, times,
 * bytes), hostile forms (fields missing, repeated, hostile names, many
 * parts, broken multipart) and junk. A bridged file may keep its readable
 * lines (200) or be refused (4xx, nothing stored); never a 5xx.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { budgetOf, FUZZ_BUDGET, FuzzRun } from "./harness.js";
import { seedForms, seedJunk, seedLineFiles } from "./seed-cases.js";

const RUNS = FUZZ_BUDGET["seed-bridge.test.ts"];

describe("fuzz: seed bridge POST /upload_metrics", () => {
  let c: FuzzCentral;
  let run: FuzzRun;
  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" });
    run = new FuzzRun(c, "seed bridge");
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`seed files with hostile lines (${RUNS.lines})`, async () => {
    await seedLineFiles(run, RUNS.lines, "seed-bridge/lines");
  }, 120_000);

  it(`hostile forms: fields missing, repeated, hostile, many parts, broken multipart (${RUNS.forms})`, async () => {
    await seedForms(run, RUNS.forms, "seed-bridge/forms");
  }, 120_000);

  it(`file bytes that are not a seed file (${RUNS.bytes})`, async () => {
    await seedJunk(run, RUNS.bytes, "seed-bridge/bytes");
  }, 120_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("seed-bridge.test.ts"));
  });
});
