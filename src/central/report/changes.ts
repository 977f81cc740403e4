import { DateTime } from "luxon";
import type { ServerEvidence } from "./findings.js";
import { humanBytes } from "./format.js";
import { totalChanged } from "./trends.js";
import type { Finding, ReportThresholds } from "./types.js";

/**
 * Changes to a server's hardware and mounts during the week, as information:
 * RAM total changed, a disk resized, a mount added or removed, a new server.
 *
 * Located from the week's hour buckets, each of which knows its first and
 * last sample: a change between two buckets lies between the last sample of
 * one and the first of the next (to the sample); one inside a bucket lies
 * between its first and last sample (within the hour). A value that changes
 * and changes back inside one hour is not seen. Steps smaller than
 * change_min_percent are drift (filesystems whose size follows a shared
 * pool), not a resize.
 */

interface ChangeEvent {
  kind: "ram_changed" | "disk_resized" | "mount_added" | "mount_removed";
  mount?: string;
  /** Last sample with the old state and first with the new one (epoch ms). */
  before: number;
  after: number;
  from?: number;
  to?: number;
}

/** More events than this of one kind (and mount) in a week are summarized in one finding. */
const MAX_LISTED = 3;

function stamp(ms: number, timeZone: string): DateTime {
  return DateTime.fromMillis(ms, { zone: timeZone });
}

/** "Wed 18 Nov between 14:05 and 14:10", or with both dates when they differ. */
export function between(before: number, after: number, timeZone: string): string {
  const a = stamp(before, timeZone);
  const b = stamp(after, timeZone);
  if (a.toISODate() === b.toISODate()) {
    return `on ${a.toFormat("ccc d LLL")} between ${a.toFormat("HH:mm")} and ${b.toFormat("HH:mm")}`;
  }
  return `between ${a.toFormat("ccc d LLL HH:mm")} and ${b.toFormat("ccc d LLL HH:mm")}`;
}

function detect(ev: ServerEvidence, t: ReportThresholds): ChangeEvent[] {
  const n = ev.days.length;
  const weekStart = ev.dayStarts[n - 7]!;
  const events: ChangeEvent[] = [];
  // State at the last sample before the week (the last day with data in the history).
  let lastTs: number | null = null;
  let memTotal: number | null = null;
  let mounts = new Map<string, { total: number; lastTs: number; gone: number | null }>();
  for (let i = n - 8; i >= 0; i--) {
    const d = ev.days[i]!;
    if (d.lastTs === null) continue;
    lastTs = d.lastTs;
    memTotal = d.day.memory.total_bytes;
    for (const disk of d.day.disks) {
      const span = d.mountSpans.get(disk.mount)!;
      // Only mounts present at that day's last sample: one gone earlier was removed before the week.
      if (span.lastTs === d.lastTs) {
        mounts.set(disk.mount, { total: disk.total_bytes, lastTs: span.lastTs, gone: null });
      }
    }
    break;
  }
  for (const h of ev.hours) {
    if (h.firstTs < weekStart) continue;
    if (
      memTotal !== null &&
      lastTs !== null &&
      totalChanged(memTotal, h.firstMemTotal, t.change_min_percent)
    ) {
      events.push({
        kind: "ram_changed",
        before: lastTs,
        after: h.firstTs,
        from: memTotal,
        to: h.firstMemTotal,
      });
    }
    if (totalChanged(h.firstMemTotal, h.lastMemTotal, t.change_min_percent)) {
      events.push({
        kind: "ram_changed",
        before: h.firstTs,
        after: h.lastTs,
        from: h.firstMemTotal,
        to: h.lastMemTotal,
      });
    }
    const now = new Map<string, { total: number; lastTs: number; gone: number | null }>();
    for (const m of h.mounts) {
      const prev = mounts.get(m.mount);
      if (prev === undefined) {
        // A server's first samples bring its mounts; only later ones were added. Mounted
        // mid-hour: the hour's first sample lacked it.
        const before = m.firstTs > h.firstTs ? h.firstTs : lastTs;
        if (before !== null) events.push({ kind: "mount_added", mount: m.mount, before, after: m.firstTs });
      } else if (totalChanged(prev.total, m.firstTotal, t.change_min_percent)) {
        events.push({
          kind: "disk_resized",
          mount: m.mount,
          before: prev.lastTs,
          after: m.firstTs,
          from: prev.total,
          to: m.firstTotal,
        });
      }
      if (totalChanged(m.firstTotal, m.total, t.change_min_percent)) {
        events.push({
          kind: "disk_resized",
          mount: m.mount,
          before: m.firstTs,
          after: m.lastTs,
          from: m.firstTotal,
          to: m.total,
        });
      }
      // Gone before the hour's last sample: a sample without it came by then.
      now.set(m.mount, { total: m.total, lastTs: m.lastTs, gone: m.lastTs < h.lastTs ? h.lastTs : null });
    }
    for (const [mount, prev] of mounts) {
      if (!now.has(mount)) {
        events.push({ kind: "mount_removed", mount, before: prev.lastTs, after: prev.gone ?? h.firstTs });
      }
    }
    mounts = now;
    lastTs = h.lastTs;
    memTotal = h.lastMemTotal;
  }
  return events;
}

function eventMessage(e: ChangeEvent, timeZone: string): string {
  const when = between(e.before, e.after, timeZone);
  switch (e.kind) {
    case "ram_changed":
      return `RAM changed from ${humanBytes(e.from!)} to ${humanBytes(e.to!)} ${when}.`;
    case "disk_resized":
      return `Disk ${e.mount} was resized from ${humanBytes(e.from!)} to ${humanBytes(e.to!)} ${when}.`;
    case "mount_added":
      return `Mount ${e.mount} appeared ${when}.`;
    case "mount_removed":
      return `Mount ${e.mount} disappeared ${when}; the server kept reporting.`;
  }
}

function summaryMessage(
  kind: ChangeEvent["kind"],
  mount: string | undefined,
  list: ChangeEvent[],
  tz: string,
): string {
  const first = stamp(list[0]!.after, tz).toFormat("ccc d LLL HH:mm");
  const last = stamp(list[list.length - 1]!.after, tz).toFormat("ccc d LLL HH:mm");
  const span = `${list.length} times this week, first ${first}, last ${last}`;
  const sizes = list.flatMap((e) => [e.from!, e.to!]);
  const range = () => `between ${humanBytes(Math.min(...sizes))} and ${humanBytes(Math.max(...sizes))}`;
  switch (kind) {
    case "ram_changed":
      return `RAM changed ${span}, ${range()}; now ${humanBytes(list[list.length - 1]!.to!)} (dynamic memory?).`;
    case "disk_resized":
      return `Disk ${mount} was resized ${span}, ${range()}; now ${humanBytes(list[list.length - 1]!.to!)}.`;
    case "mount_added":
      return `Mount ${mount} appeared ${span}.`;
    case "mount_removed":
      return `Mount ${mount} disappeared ${span}.`;
  }
}

/** The week's change findings (severity info), in time order within each kind. */
export function changeFindings(ev: ServerEvidence, t: ReportThresholds): Finding[] {
  const n = ev.days.length;
  const weekStart = ev.dayStarts[n - 7]!;
  const findings: Finding[] = [];
  if (ev.firstSeen >= weekStart && ev.firstSeen < ev.dayStarts[n]!) {
    const first = ev.days.find((d) => d.firstTs === ev.firstSeen);
    const mounts = [...(first?.mountSpans.entries() ?? [])]
      .filter(([, m]) => m.firstTs === ev.firstSeen)
      .map(([mount]) => mount)
      .sort();
    const what =
      first === undefined
        ? ""
        : ` with ${humanBytes(first.firstMemTotal!)} RAM and ${mounts.length === 1 ? "mount" : "mounts"} ${mounts.join(", ")}`;
    findings.push({
      severity: "info",
      kind: "new_server",
      date: stamp(ev.firstSeen, ev.timeZone).toISODate()!,
      message: `New server: first seen ${stamp(ev.firstSeen, ev.timeZone).toFormat("ccc d LLL HH:mm")}${what}.`,
    });
  }
  const groups = new Map<string, ChangeEvent[]>();
  for (const e of detect(ev, t)) {
    const key = `${e.kind}\u0000${e.mount ?? ""}`;
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [e]);
    else list.push(e);
  }
  const order: ChangeEvent["kind"][] = ["ram_changed", "disk_resized", "mount_added", "mount_removed"];
  const keys = [...groups.keys()].sort((a, b) => {
    const [ka, ma] = a.split("\u0000") as [ChangeEvent["kind"], string];
    const [kb, mb] = b.split("\u0000") as [ChangeEvent["kind"], string];
    return order.indexOf(ka) - order.indexOf(kb) || (ma < mb ? -1 : ma > mb ? 1 : 0);
  });
  for (const key of keys) {
    const list = groups.get(key)!;
    const { kind, mount } = list[0]!;
    const base = (e: ChangeEvent): Finding => ({
      severity: "info",
      kind,
      ...(mount === undefined ? {} : { mount }),
      date: stamp(e.after, ev.timeZone).toISODate()!,
      message: "",
    });
    if (list.length <= MAX_LISTED) {
      for (const e of list) findings.push({ ...base(e), message: eventMessage(e, ev.timeZone) });
    } else {
      findings.push({ ...base(list[0]!), message: summaryMessage(kind, mount, list, ev.timeZone) });
    }
  }
  return findings;
}
