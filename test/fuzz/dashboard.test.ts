/**
 * Fuzz: the dashboard (issue 24, point 5): query strings of every page
 * (server page ranges, fleet filters, report archive, next=), hostile
 * cookies, and every form (sign-in, sign-out, tokens, users, resend) with and
 * without a session, with the right, a wrong or a hostile CSRF token, and
 * hostile fields and content types. The property (harness.ts) plus: a GET
 * stores nothing; a form with a wrong CSRF token or without a session never
 * acts; a redirect stays on the site.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { seed } from "../central/dashboard/harness.js";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { dashboardForms, dashboardPages, signInForm, signInNext } from "./dashboard-cases.js";
import { budgetOf, FUZZ_BUDGET, FuzzRun } from "./harness.js";

const RUNS = FUZZ_BUDGET["dashboard.test.ts"];

describe("fuzz: dashboard pages and forms", () => {
  let c: FuzzCentral;
  let run: FuzzRun;
  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" });
    // Three servers (one with a hostile name), 20 days of samples, an archived report and its deliveries, alice (admin) and victor (viewer).
    await seed(c.store);
    run = new FuzzRun(c, "dashboard");
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`pages and their query strings, with and without a session (${RUNS.pages})`, async () => {
    await dashboardPages(run, RUNS.pages, "dashboard/pages");
  }, 180_000);

  it(`forms with and without session and CSRF, hostile fields and types (${RUNS.forms})`, async () => {
    await dashboardForms(run, RUNS.forms, "dashboard/forms");
  }, 180_000);

  // Before the wrong passwords below: those fill the sign-in throttle of this address.
  it(`sign-in with a good password and a hostile next= (${RUNS.next})`, async () => {
    await signInNext(run, RUNS.next, "dashboard/next");
  }, 180_000);

  it(`sign-in form: hostile names, passwords, next and login tokens (${RUNS.login})`, async () => {
    await signInForm(run, RUNS.login, "dashboard/login");
  }, 180_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("dashboard.test.ts"));
  });
});
