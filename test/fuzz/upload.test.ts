/**
 * Fuzz: POST /api/v1/metrics on SQLite (issue 24, point 5). Generated CSV
 * v1 files (hostile fields, structure and bytes), junk bodies, hostile
 * envelopes (content types, encodings, corrupt gzip, broken multipart,
 * tokens, methods) and large shapes, against `central serve` as it runs.
 * The property (harness.ts): a 4xx or a clean 2xx, bounded answers, nothing
 * stored from a refused request, memory bounded.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { budgetOf, FUZZ_BUDGET, FuzzRun } from "./harness.js";
import { arbitraryBodies, csvMutations, envelopes, sizes } from "./upload-cases.js";

const RUNS = FUZZ_BUDGET["upload.test.ts"];

describe("fuzz: CSV v1 uploads (SQLite)", () => {
  let c: FuzzCentral;
  let run: FuzzRun;
  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" }, { SRVUTIL_PARSE_WORKERS: "2" });
    run = new FuzzRun(c, "upload (sqlite)");
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`hostile CSV v1 files over raw, gzip and multipart (${RUNS.csv})`, async () => {
    await csvMutations(run, RUNS.csv, "upload/csv-mutations");
  }, 120_000);

  it(`bodies that are not CSV v1 (${RUNS.bodies})`, async () => {
    await arbitraryBodies(run, RUNS.bodies, "upload/arbitrary-bodies");
  }, 120_000);

  it(`hostile envelopes: types, encodings, corrupt gzip, multipart, tokens, methods (${RUNS.envelopes})`, async () => {
    await envelopes(run, RUNS.envelopes, "upload/envelopes");
  }, 120_000);

  it(`long lines, many lines, many columns, many mounts (${RUNS.sizes})`, async () => {
    await sizes(run, RUNS.sizes, "upload/sizes");
  }, 180_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("upload.test.ts"));
  });
});
