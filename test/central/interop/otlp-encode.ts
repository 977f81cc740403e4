/**
 * Test helpers for OTLP bodies: the hostmetrics fixture
 * (test/fixtures/interop/otlp-hostmetrics.json) with its times moved to the
 * real clock. Its protobuf encoding is test/helpers/otlp-encoding.ts.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export { otlpJsonToProtobuf } from "../../helpers/otlp-encoding.js";

export const OTLP_FIXTURE = path.join(import.meta.dirname, "../../fixtures/interop/otlp-hostmetrics.json");

type Json = Record<string, unknown>;

/**
 * The hostmetrics fixture with every time moved so that its latest point (the
 * last cycle's group time) is `lastCycleMs`; with `bootMs`, every start time
 * is that instant (one boot across several calls: no reset between them).
 */
export function hostmetricsFixture(lastCycleMs: number, bootMs?: number): Json {
  const fixture = JSON.parse(readFileSync(OTLP_FIXTURE, "utf8")) as Json;
  let latest = 0n;
  walkPoints(fixture, (p) => {
    const t = BigInt(p.timeUnixNano as string);
    if (t > latest) latest = t;
  });
  const shift = BigInt(lastCycleMs) * 1_000_000n - latest;
  walkPoints(fixture, (p) => {
    for (const key of ["timeUnixNano", "startTimeUnixNano"]) {
      if (typeof p[key] === "string") p[key] = String(BigInt(p[key] as string) + shift);
    }
    if (bootMs !== undefined && p.startTimeUnixNano !== undefined) {
      p.startTimeUnixNano = String(BigInt(bootMs) * 1_000_000n);
    }
  });
  return fixture;
}

export function walkPoints(request: Json, visit: (point: Json) => void): void {
  for (const rm of request.resourceMetrics as Json[]) {
    for (const sm of rm.scopeMetrics as Json[]) {
      for (const m of sm.metrics as Json[]) {
        const data = (m.sum ?? m.gauge) as Json | undefined;
        for (const p of (data?.dataPoints ?? []) as Json[]) visit(p);
      }
    }
  }
}
