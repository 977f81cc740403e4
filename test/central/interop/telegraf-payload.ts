/**
 * A Telegraf batch as outputs.http sends it with data_format = "json": the
 * serializer's batch format from its documentation, with the field and tag
 * names of the cpu (cpu-total and one CPU), mem, disk and system inputs.
 * busy = 100 − 71.5 − 3.5 = 25 %; memory 8 GB, 6 GB available; / ext4 and
 * a tmpfs /run (dropped). The disks are gathered a second after the rest.
 */
export function telegrafBatch(host: string, seconds: number): { metrics: unknown[] } {
  return {
    metrics: [
      {
        fields: { usage_guest: 0, usage_idle: 71.5, usage_iowait: 3.5, usage_system: 5, usage_user: 20 },
        name: "cpu",
        tags: { cpu: "cpu-total", host },
        timestamp: seconds,
      },
      {
        fields: { usage_idle: 10, usage_iowait: 0, usage_user: 90 },
        name: "cpu",
        tags: { cpu: "cpu0", host },
        timestamp: seconds,
      },
      {
        fields: {
          active: 1,
          available: 6_000_000_000,
          available_percent: 75,
          free: 1e9,
          total: 8_000_000_000,
          used: 2e9,
        },
        name: "mem",
        tags: { host },
        timestamp: seconds,
      },
      {
        fields: {
          free: 70e9,
          inodes_free: 1,
          inodes_total: 2,
          inodes_used: 1,
          total: 100e9,
          used: 25e9,
          used_percent: 26.3,
        },
        name: "disk",
        tags: { device: "sda1", fstype: "ext4", host, mode: "rw", path: "/" },
        timestamp: seconds + 1,
      },
      {
        fields: { free: 1e9, total: 1e9, used: 0 },
        name: "disk",
        tags: { device: "tmpfs", fstype: "tmpfs", host, mode: "rw", path: "/run" },
        timestamp: seconds + 1,
      },
      { fields: { load1: 0.5 }, name: "system", tags: { host }, timestamp: seconds },
    ],
  };
}
