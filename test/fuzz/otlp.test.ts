/**
 * Fuzz: the push inputs of foreign agents on SQLite (issue 27): POST
 * /v1/metrics (OTLP protobuf and JSON), POST /api/v1/telegraf and POST
 * /api/v1/collectd, each with valid payloads made hostile (values, keys,
 * bytes, gzip) and with hostile envelopes, against `central serve` as it
 * runs. The property (harness.ts): a 4xx or a clean 2xx, bounded answers,
 * nothing stored from a refused request, memory bounded.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { budgetOf, FUZZ_BUDGET, FuzzRun } from "./harness.js";
import { collectdBodies, otlpBodies, pushEnvelopes, telegrafBodies } from "./push-cases.js";

const RUNS = FUZZ_BUDGET["otlp.test.ts"];
/** A small cap, so that bombs and large bodies meet it quickly. */
const MAX_BODY_BYTES = 256 * 1024;

describe("fuzz: OTLP, Telegraf and collectd push routes (SQLite)", () => {
  let c: FuzzCentral;
  let run: FuzzRun;
  beforeAll(async () => {
    c = await startFuzzCentral(
      { kind: "sqlite" },
      // Unlimited failed authentications: the envelopes send hundreds of bad tokens from one address.
      { SRVUTIL_MAX_BODY_BYTES: String(MAX_BODY_BYTES), SRVUTIL_AUTH_FAILURES_PER_MINUTE: "0" },
    );
    run = new FuzzRun(c, "push (sqlite)");
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`hostile OTLP protobuf bodies (${RUNS.otlpProtobuf})`, async () => {
    await otlpBodies(run, RUNS.otlpProtobuf, "push/otlp-protobuf", true);
  }, 180_000);

  it(`hostile OTLP/JSON bodies (${RUNS.otlpJson})`, async () => {
    await otlpBodies(run, RUNS.otlpJson, "push/otlp-json", false);
  }, 180_000);

  it(`hostile Telegraf bodies (${RUNS.telegraf})`, async () => {
    await telegrafBodies(run, RUNS.telegraf, "push/telegraf");
  }, 180_000);

  it(`hostile collectd bodies (${RUNS.collectd})`, async () => {
    await collectdBodies(run, RUNS.collectd, "push/collectd");
  }, 180_000);

  it(`hostile envelopes: media types, encodings, bombs, tokens, random bytes (${RUNS.envelopes})`, async () => {
    await pushEnvelopes(run, RUNS.envelopes, "push/envelopes", MAX_BODY_BYTES);
  }, 180_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("otlp.test.ts"));
  });
});
