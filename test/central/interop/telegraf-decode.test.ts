/**
 * Telegraf decoding: the JSON serializer's batch format as its documentation
 * gives it (`{"metrics": [{"fields", "name", "tags", "timestamp"}]}`, integer
 * seconds) with the cpu, mem and disk inputs' field names.
 */
import { describe, expect, it } from "vitest";
import {
  parseTelegrafBody,
  TelegrafFormatError,
  telegrafToPointGroups,
} from "../../../src/central/ingest/interop/telegraf.js";
import { telegrafBatch } from "./telegraf-payload.js";

const T = 1796635300;

describe("Telegraf JSON to PointGroups", () => {
  it("cpu-total busy = 100 − idle − iowait, mem total/available, real disks; one group per gather", () => {
    const metrics = parseTelegrafBody(JSON.stringify(telegrafBatch("tg-01", T)));
    expect(telegrafToPointGroups(metrics, "host")).toEqual([
      {
        server: "tg-01",
        timestamp: (T + 1) * 1000,
        cpuBusyPercent: { value: 25, intervalSeconds: null },
        memory: { totalBytes: 8e9, availableBytes: 6e9 },
        disks: [{ mount: "/", fsType: "ext4", totalBytes: 100e9, usedBytes: 25e9, freeBytes: 70e9 }],
      },
    ]);
  });

  it("use_batch_format = false: one metric per line", () => {
    const lines = telegrafBatch("tg-01", T)
      .metrics.map((m) => JSON.stringify(m))
      .join("\n");
    expect(telegrafToPointGroups(parseTelegrafBody(lines), "host")).toHaveLength(1);
  });

  it("the server comes from the configured tag; gathers a full interval apart are separate groups", () => {
    const a = telegrafBatch("tg-01", T).metrics;
    const b = telegrafBatch("tg-01", T + 10).metrics;
    const groups = telegrafToPointGroups(
      [...a, ...b].map((m) => ({ ...(m as object), tags: { ...(m as { tags: object }).tags, node: "n-7" } })),
      "node",
    );
    expect(groups.map((g) => [g.server, g.timestamp])).toEqual([
      ["n-7", (T + 1) * 1000],
      ["n-7", (T + 11) * 1000],
    ]);
  });

  it.each([
    ["empty", ""],
    ["not JSON", "cpu usage_idle=1 1458229140"],
    ["metrics not an array", '{"metrics": {}}'],
    [
      "a metric without the server tag",
      JSON.stringify({ metrics: [{ name: "mem", fields: { total: 1 }, tags: {}, timestamp: T }] }),
    ],
    [
      "a timestamp in milliseconds",
      JSON.stringify({
        metrics: [{ name: "mem", fields: { total: 1 }, tags: { host: "h" }, timestamp: T * 1000 }],
      }),
    ],
    [
      "a tag that is not a string",
      JSON.stringify({ metrics: [{ name: "mem", fields: {}, tags: { host: 1 }, timestamp: T }] }),
    ],
    [
      "fields that are not an object",
      JSON.stringify({ metrics: [{ name: "disk", fields: [], tags: { host: "h" }, timestamp: T }] }),
    ],
  ])("refuses %s", (_, body) => {
    expect(() => telegrafToPointGroups(parseTelegrafBody(body), "host")).toThrow(TelegrafFormatError);
  });
});
