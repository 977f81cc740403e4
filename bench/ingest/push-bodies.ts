/**
 * The bodies of bench/ingest/push-inputs.ts's OTLP, Telegraf and collectd
 * inputs: `servers` hosts' readings at `t` (epoch ms), step `step`, in the
 * shapes docs/integrations-push.md describes.
 */

/** How far back push-inputs.ts starts its readings; the counters' start (boot) is a day before. */
const START_AGO_MS = 6 * 86_400_000;

/**
 * One host's reading at `step` as each push input gives it: 2 CPUs × 8 states
 * (60 s more per CPU and step, a quarter of it busy), 8 GB of memory, one
 * disk. Counters only grow, so every step after the first is a sample.
 */
const CPU_STATES = ["user", "system", "idle", "wait", "nice", "interrupt", "softirq", "steal"] as const;
function cpuSeconds(cpu: number, state: (typeof CPU_STATES)[number], step: number): number {
  const perStep: Record<string, number> = { user: 12, system: 3, idle: 44, wait: 1 };
  return 1000 * (cpu + 1) + (state === "idle" ? 50_000 : 100) + step * (perStep[state] ?? 0);
}
const MEMORY = {
  used: 2e9,
  free: 1e9,
  buffered: 1e8,
  cached: 4.9e9,
  slab_reclaimable: 2e8,
  slab_unreclaimable: 5e7,
};
const DISK = { used: 40e9, free: 55e9, reserved: 5e9 };
/** The counters' start (boot), the same for every request. */
const BOOT_NS = String(BigInt(Date.now() - START_AGO_MS - 86_400_000) * 1_000_000n);

/** The hostmetrics receiver's shape (docs/integrations-push.md), one resource per server. */
export function otlpRequest(servers: readonly string[], t: number, step: number): Record<string, unknown> {
  const time = String(BigInt(t) * 1_000_000n);
  const attr = (key: string, value: string) => ({ key, value: { stringValue: value } });
  const point = (attributes: unknown[], value: Record<string, unknown>) => ({
    attributes,
    startTimeUnixNano: BOOT_NS,
    timeUnixNano: time,
    ...value,
  });
  return {
    resourceMetrics: servers.map((server) => ({
      resource: { attributes: [attr("host.name", server)] },
      scopeMetrics: [
        {
          metrics: [
            {
              name: "system.cpu.time",
              unit: "s",
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: [0, 1].flatMap((cpu) =>
                  CPU_STATES.map((state) =>
                    point([attr("cpu", `cpu${cpu}`), attr("state", state)], {
                      asDouble: cpuSeconds(cpu, state, step),
                    }),
                  ),
                ),
              },
            },
            {
              name: "system.memory.usage",
              unit: "By",
              sum: {
                aggregationTemporality: 2,
                dataPoints: Object.entries(MEMORY).map(([state, v]) =>
                  point([attr("state", state)], { asInt: String(v) }),
                ),
              },
            },
            {
              name: "system.filesystem.usage",
              unit: "By",
              sum: {
                aggregationTemporality: 2,
                dataPoints: Object.entries(DISK).map(([state, v]) =>
                  point([attr("mountpoint", "/"), attr("type", "ext4"), attr("state", state)], {
                    asInt: String(v),
                  }),
                ),
              },
            },
          ],
        },
      ],
    })),
  };
}

/** Telegraf's JSON batch metrics: cpu-total, mem and disk per host. */
export function telegrafMetrics(servers: readonly string[], t: number, step: number): unknown[] {
  const timestamp = Math.floor(t / 1000);
  return servers.flatMap((host) => [
    {
      fields: {
        usage_idle: 70 - (step % 10),
        usage_iowait: 1,
        usage_system: 5,
        usage_user: 24 + (step % 10),
      },
      name: "cpu",
      tags: { cpu: "cpu-total", host },
      timestamp,
    },
    {
      fields: { total: 8e9, available: 5.9e9, used: 2e9, free: 1e9 },
      name: "mem",
      tags: { host },
      timestamp,
    },
    {
      fields: { total: 100e9, free: 55e9, used: 40e9, used_percent: 42.1 },
      name: "disk",
      tags: { device: "sda1", fstype: "ext4", host, mode: "rw", path: "/" },
      timestamp,
    },
  ]);
}

/** collectd write_http's JSON value lists: cpu jiffies, memory, df per host. */
export function collectdBody(servers: readonly string[], t: number, step: number): unknown[] {
  const time = t / 1000;
  const list = (
    host: string,
    plugin: string,
    pi: string,
    type: string,
    ti: string,
    value: number,
    ds: string,
  ) => ({
    values: [value],
    dstypes: [ds],
    dsnames: ["value"],
    time,
    interval: 60,
    host,
    plugin,
    plugin_instance: pi,
    type,
    type_instance: ti,
  });
  const memory = { used: 2e9, buffered: 1e8, cached: 4.9e9, free: 1e9, slab_recl: 2e8, slab_unrecl: 5e7 };
  return servers.flatMap((host) => [
    ...[0, 1].flatMap((cpu) =>
      CPU_STATES.map((state) =>
        list(
          host,
          "cpu",
          String(cpu),
          "cpu",
          state,
          Math.round(cpuSeconds(cpu, state, step) * 100),
          "derive",
        ),
      ),
    ),
    ...Object.entries(memory).map(([ti, v]) => list(host, "memory", "", "memory", ti, v, "gauge")),
    ...Object.entries(DISK).map(([ti, v]) => list(host, "df", "root", "df_complex", ti, v, "gauge")),
  ]);
}
