/**
 * Fuzz on PostgreSQL (issue 24, point 5): a smaller pass of the same
 * properties through `central serve` on the real PostgreSQL server: CSV v1
 * uploads and their envelopes (raw uploads go into the database there), the
 * seed bridge's forms, the dashboard's forms and the sign-in form. What
 * PostgreSQL refuses that SQLite takes (a NUL in a text value) must still be
 * a 4xx, and a refused request must leave every table as it was.
 */
import { afterAll, beforeAll, beforeEach, describe, it } from "vitest";
import { seed } from "../central/dashboard/harness.js";
import { findTestPostgres } from "../helpers/postgres.js";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { dashboardForms, signInForm } from "./dashboard-cases.js";
import { budgetOf, FUZZ_BUDGET, FuzzRun } from "./harness.js";
import { seedForms } from "./seed-cases.js";
import { csvMutations, envelopes } from "./upload-cases.js";

const RUNS = FUZZ_BUDGET["postgres.test.ts"];
const PG = await findTestPostgres();

describe("fuzz: PostgreSQL pass", () => {
  let c: FuzzCentral | undefined;
  let run: FuzzRun;
  beforeAll(async () => {
    if (PG.skipReason !== undefined) return;
    c = await startFuzzCentral({ kind: "postgres", url: PG.url }, { SRVUTIL_PARSE_WORKERS: "2" });
    await seed(c.store);
    run = new FuzzRun(c, "postgres");
  });
  afterAll(async () => {
    await c?.close();
  });
  beforeEach((ctx) => {
    if (PG.skipReason !== undefined) ctx.skip(PG.skipReason);
  });

  it(`hostile CSV v1 files (${RUNS.csv})`, async () => {
    await csvMutations(run, RUNS.csv, "postgres/csv-mutations");
  }, 180_000);

  it(`hostile upload envelopes (${RUNS.envelopes})`, async () => {
    await envelopes(run, RUNS.envelopes, "postgres/envelopes");
  }, 180_000);

  it(`hostile seed bridge forms (${RUNS.seedForms})`, async () => {
    await seedForms(run, RUNS.seedForms, "postgres/seed-forms");
  }, 180_000);

  it(`dashboard forms with and without session and CSRF (${RUNS.forms})`, async () => {
    await dashboardForms(run, RUNS.forms, "postgres/dashboard-forms");
  }, 180_000);

  it(`sign-in form with hostile names and passwords (${RUNS.login})`, async () => {
    await signInForm(run, RUNS.login, "postgres/sign-in");
  }, 180_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("postgres.test.ts"));
  });
});
