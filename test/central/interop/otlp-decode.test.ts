/**
 * OTLP decoding: the hostmetrics receiver's shape (fixture built to its
 * documentation) in OTLP/JSON and in protobuf gives the same PointGroups with
 * the figures the fixture holds; the fallbacks; malformed bodies; the answer.
 */
import { describe, expect, it } from "vitest";
import { isOtlpFamilyRead, otlpToPointGroups } from "../../../src/central/ingest/interop/otlp.js";
import { decodeOtlpJson } from "../../../src/central/ingest/interop/otlp-json.js";
import { OtlpDecodeError } from "../../../src/central/ingest/interop/otlp-model.js";
import {
  decodeOtlpProtobuf,
  encodeOtlpResponse,
  encodeRpcStatus,
} from "../../../src/central/ingest/interop/otlp-protobuf.js";
import { asString, asVarint, wireFields } from "../../helpers/otlp-encoding.js";
import { hostmetricsFixture, otlpJsonToProtobuf, walkPoints } from "./otlp-encode.js";

const LAST = Date.UTC(2026, 11, 7, 9, 0, 0);
type Json = Record<string, unknown>;

function fromJson(request: Json, attribute = "host.name") {
  return otlpToPointGroups(decodeOtlpJson(Buffer.from(JSON.stringify(request)), isOtlpFamilyRead), attribute);
}
function fromProtobuf(request: Json, attribute = "host.name") {
  return otlpToPointGroups(decodeOtlpProtobuf(otlpJsonToProtobuf(request), isOtlpFamilyRead), attribute);
}

function dropMetric(request: Json, name: string): Json {
  for (const rm of request.resourceMetrics as Json[]) {
    for (const sm of rm.scopeMetrics as Json[]) {
      sm.metrics = (sm.metrics as Json[]).filter((m) => m.name !== name);
    }
  }
  return request;
}

describe("OTLP hostmetrics shape to PointGroups", () => {
  it.each([
    ["JSON", fromJson],
    ["protobuf", fromProtobuf],
  ])("%s: two cycles of one host, CPU summed over CPUs, memory, real filesystems only", (_, decode) => {
    const batch = decode(hostmetricsFixture(LAST));
    expect(batch.rejectedPoints).toBe(0);
    expect(batch.groups.map((g) => [g.server, g.timestamp])).toEqual([
      ["otel-web-01", LAST - 60_000],
      ["otel-web-01", LAST],
    ]);
    const [first, second] = batch.groups;
    // cpu0 + cpu1: idle = idle + wait; total = every state (steal included); 2 CPUs × 8 states summed.
    expect(first!.cpuCounters).toEqual({
      idle: 16190,
      total: 18700.75,
      start: LAST - 60_000 - 86_400_000 - 7,
      series: 16,
    });
    expect(second!.cpuCounters!.total - first!.cpuCounters!.total).toBeCloseTo(120, 6);
    expect(second!.cpuCounters!.idle - first!.cpuCounters!.idle).toBeCloseTo(80, 6);
    // total = used + free + buffered + cached; available from system.linux.memory.available.
    expect(first!.memory).toEqual({ totalBytes: 4_000_000_000, availableBytes: 1_800_000_000 });
    expect(second!.memory).toEqual({ totalBytes: 4_000_000_000, availableBytes: 1_700_000_000 });
    // /dev/shm is tmpfs: dropped. total = used + free + reserved.
    expect(second!.disks).toEqual([
      { mount: "/", fsType: "ext4", totalBytes: 95e9, usedBytes: 20e9, freeBytes: 70e9 },
      { mount: "/boot/efi", fsType: "vfat", totalBytes: 506e6, usedBytes: 6e6, freeBytes: 500e6 },
    ]);
    // Every point of the families read, per cycle: 16 cpu + 7 memory + 9 filesystem.
    expect(batch.pointsPerGroup).toEqual([32, 32]);
  });

  it("without system.linux.memory.available: available = free + buffered + cached", () => {
    const batch = fromJson(dropMetric(hostmetricsFixture(LAST), "system.linux.memory.available"));
    expect(batch.groups[0]!.memory).toEqual({ totalBytes: 4_000_000_000, availableBytes: 2_000_000_000 });
  });

  it("the server comes from the configured resource attribute; a resource without it is refused", () => {
    const request = hostmetricsFixture(LAST);
    const byOsType = fromJson(request, "os.type");
    expect(new Set(byOsType.groups.map((g) => g.server))).toEqual(new Set(["linux"]));
    const missing = fromJson(request, "service.instance.id");
    expect(missing.groups).toEqual([]);
    expect(missing.rejectedPoints).toBe(64);
    expect(missing.rejections[0]).toContain("service.instance.id");
  });

  it("a new start time shows in CpuCounters.start; delta CPU time gives the busy % of its interval", () => {
    const request = dropMetric(
      dropMetric(hostmetricsFixture(LAST), "system.memory.usage"),
      "system.filesystem.usage",
    );
    for (const rm of request.resourceMetrics as Json[]) {
      for (const sm of rm.scopeMetrics as Json[]) {
        for (const m of sm.metrics as Json[]) {
          if (m.name !== "system.cpu.time") continue;
          const sum = m.sum as Json;
          sum.aggregationTemporality = 1;
          for (const p of sum.dataPoints as Json[]) {
            const t = BigInt(p.timeUnixNano as string);
            p.startTimeUnixNano = String(t - 10_000_000_000n);
            const state = (p.attributes as Json[]).find((a) => a.key === "state")!.value as Json;
            p.asDouble = state.stringValue === "idle" ? 7 : state.stringValue === "user" ? 3 : 0;
          }
        }
      }
    }
    const batch = fromJson(request);
    expect(batch.groups[0]!.cpuCounters).toBeUndefined();
    expect(batch.groups[0]!.cpuBusyPercent!.value).toBeCloseTo(30, 9);
    expect(batch.groups[0]!.cpuBusyPercent!.intervalSeconds).toBeCloseTo(10, 3);
  });

  it("refuses points without a time or with a negative or non-finite value, and counts them", () => {
    const request = hostmetricsFixture(LAST);
    let n = 0;
    walkPoints(request, (p) => {
      n++;
      if (n === 1) p.asDouble = -1;
      if (n === 2) p.asDouble = "NaN";
      if (n === 3) delete p.timeUnixNano;
    });
    const batch = fromJson(request);
    expect(batch.rejectedPoints).toBe(3);
    expect(batch.rejections.join(" | ")).toMatch(/finite number.*time_unix_nano|time_unix_nano.*finite/);
  });

  it("ignores every other metric without decoding its points", () => {
    const batch = fromJson({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: "host.name", value: { stringValue: "h" } }] },
          scopeMetrics: [
            { metrics: [{ name: "system.network.io", sum: { dataPoints: "not even an array" } }] },
          ],
        },
      ],
    });
    expect(batch).toEqual({ groups: [], pointsPerGroup: [], rejectedPoints: 0, rejections: [] });
  });
});

describe("malformed OTLP bodies", () => {
  it.each([
    ["not JSON", "{"],
    ["not an object", "[1]"],
    ["resourceMetrics not an array", '{"resourceMetrics": 3}'],
    [
      "a time that is not nanoseconds",
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"system.cpu.time","sum":{"dataPoints":[{"timeUnixNano":"soon"}]}}]}]}]}',
    ],
  ])("JSON: %s", (_, body) => {
    expect(() => decodeOtlpJson(Buffer.from(body), isOtlpFamilyRead)).toThrow(OtlpDecodeError);
  });

  it.each([
    ["a length past the end", Buffer.from([0x0a, 0x05, 0x01])],
    ["a varint cut off", Buffer.from([0x0a, 0x80])],
    ["an eleven-byte varint", Buffer.from([0x08, ...Array(10).fill(0xff), 0x01])],
    ["wire type 3 (group)", Buffer.from([0x0b])],
    ["field number 0", Buffer.from([0x02, 0x00])],
    ["a resource_metrics that is a varint", Buffer.from([0x08, 0x01])],
    ["a fixed64 cut off inside a point", otlpJsonToProtobuf(hostmetricsFixture(LAST)).subarray(0, 200)],
  ])("protobuf: %s", (_, body) => {
    expect(() => decodeOtlpProtobuf(body, isOtlpFamilyRead)).toThrow(OtlpDecodeError);
  });

  it("protobuf: an empty body is an empty request", () => {
    expect(decodeOtlpProtobuf(Buffer.alloc(0), isOtlpFamilyRead)).toEqual([]);
  });
});

describe("ExportMetricsServiceResponse and google.rpc.Status", () => {
  it("is empty when all was accepted, partial_success {rejected_data_points, error_message} otherwise", () => {
    expect(encodeOtlpResponse(null).length).toBe(0);
    const body = encodeOtlpResponse({ rejectedDataPoints: 300, errorMessage: "no host.name" });
    const [outer] = [...wireFields(body)];
    expect(outer!.field).toBe(1);
    const inner = [...wireFields(outer!.bytes)];
    expect(inner.map((f) => f.field)).toEqual([1, 2]);
    expect(asVarint(inner[0]!, "rejected")).toBe(300n);
    expect(asString(inner[1]!, "message")).toBe("no host.name");
  });

  it("Status carries code and message", () => {
    const fields = [...wireFields(encodeRpcStatus(3, "bad body"))];
    expect(asVarint(fields[0]!, "code")).toBe(3n);
    expect(asString(fields[1]!, "message")).toBe("bad body");
  });
});
