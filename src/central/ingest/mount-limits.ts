import { InputError } from "../../errors.js";
import type { MetricRow } from "../../protocol/index.js";
import { clipEcho } from "../../protocol/index.js";
import type { Storage } from "../storage/store.js";

/**
 * Caps on the distinct disk mounts a server reports, so that one agent
 * token cannot make its server's dashboard page and the weekly report as
 * large as it likes (50,000 mounts made a 36 MB page and a 206 MB report).
 *
 * - per sample: the distinct mounts of one timestamp in one file
 *   (SRVUTIL_MAX_MOUNTS_PER_SAMPLE, default 64);
 * - per server and week: the distinct mounts of one server with samples in
 *   one UTC ISO week, Monday 00:00 to Monday 00:00 by the samples' own
 *   timestamps (SRVUTIL_MAX_MOUNTS_PER_SERVER, default 256). A weekly report
 *   spans at most two such weeks, so it lists at most twice that per server.
 *   A mount already known in that week never counts again, so a server whose
 *   mounts change (a disk replaced, a volume renamed) only has to stay under
 *   the cap within each week, and a backfill of a year is checked week by week.
 *
 * A file that breaks either cap is refused whole (400, reasons
 * `too_many_mounts` and `too_many_server_mounts`) before anything of it is
 * written. What a week already holds comes from the hourly rollups the first
 * time this process sees that (server, week); after that this process keeps
 * count itself, adding a file's mounts once its rows are stored. Several
 * central instances each keep their own count, so one server spread over n
 * instances could reach n times the cap within a week (the documented proxy
 * setup sends each token to one instance).
 */
export interface MountLimits {
  perSample: number;
  perServerWeek: number;
}

export const DEFAULT_MOUNT_LIMITS: MountLimits = Object.freeze({ perSample: 64, perServerWeek: 256 });

/** The mounts a server has samples of in [from, to), as stored. */
export type StoredMounts = (server: string, from: number, to: number) => Promise<Iterable<string>>;

/** StoredMounts from the hourly rollups (the dashboard's read of one server's hours). */
export function mountsInRollups(store: Pick<Storage, "dashboard">): StoredMounts {
  return async (server, from, to) => {
    const mounts = new Set<string>();
    for (const hour of await store.dashboard.hourPoints(server, from, to)) {
      for (const d of hour.disks) mounts.add(d.mount);
    }
    return mounts;
  };
}

/** Mounts a file may add, held while its rows are written: commit once stored, release otherwise. */
export interface MountReservation {
  commit(): void;
  release(): void;
}

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** Weeks per server kept in memory (most recently used); an evicted one is read again when needed. */
const WEEKS_KEPT_PER_SERVER = 16;

/** Start of the UTC ISO week (Monday 00:00 UTC) holding `ts`. */
export function utcWeekStart(ts: number): number {
  const day = Math.floor(ts / DAY_MS);
  // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
  return (day - ((((day + 3) % 7) + 7) % 7)) * DAY_MS;
}

interface WeekMounts {
  stored: Set<string>;
  /** Mounts of files being written, with how many such files hold each. */
  pending: Map<string, number>;
}

interface WeekEntry {
  ready: Promise<WeekMounts>;
  /** Set once read. */
  mounts: WeekMounts | null;
}

export class MountLimiter {
  /** server → week start → its mounts, weeks in least-recently-used order. */
  private readonly servers = new Map<string, Map<number, WeekEntry>>();

  constructor(
    private readonly limits: MountLimits,
    private readonly storedMounts: StoredMounts,
  ) {}

  /**
   * Checks a file's rows against both caps and reserves its new mounts.
   * Throws InputError (400, reason too_many_mounts or too_many_server_mounts) when a cap would be passed; nothing is reserved then.
   */
  async reserve(server: string, rows: readonly MetricRow[]): Promise<MountReservation> {
    checkPerSample(rows, this.limits.perSample);
    const byWeek = new Map<number, Set<string>>();
    let lastWeek = Number.NaN;
    let lastEnd = Number.NaN;
    let mounts: Set<string> | undefined;
    for (const r of rows) {
      // Rows of one week come together: the week is recomputed only when it changes.
      if (!(r.timestamp >= lastWeek && r.timestamp < lastEnd)) {
        lastWeek = utcWeekStart(r.timestamp);
        lastEnd = lastWeek + WEEK_MS;
        mounts = byWeek.get(lastWeek);
        if (mounts === undefined) {
          mounts = new Set();
          byWeek.set(lastWeek, mounts);
        }
      }
      mounts!.add(r.diskMount);
    }
    const entries = [...byWeek.keys()].map((w) => this.week(server, w));
    // Weeks already read are used as they are: no await, the common case of an agent's upload.
    const weeks = entries.every((e) => e.mounts !== null)
      ? entries.map((e) => e.mounts!)
      : await Promise.all(entries.map((e) => e.ready));
    // From here on synchronous: no other upload can interleave between the check and the reservation.
    let allStored = true;
    let i = 0;
    for (const [start, fileMounts] of byWeek) {
      const week = weeks[i++]!;
      const fresh: string[] = [];
      for (const m of fileMounts) {
        if (week.stored.has(m)) continue;
        allStored = false;
        if (!week.pending.has(m)) fresh.push(m);
      }
      if (fresh.length === 0) continue;
      let known = week.stored.size;
      for (const m of week.pending.keys()) if (!week.stored.has(m)) known++;
      if (known + fresh.length > this.limits.perServerWeek) {
        throw new InputError(
          `server '${server}' would report ${known + fresh.length} distinct mounts in the UTC week from ` +
            `${new Date(start).toISOString().slice(0, 10)} (${known} already, ${fresh.length} new: ` +
            `${fresh
              .slice(0, 3)
              .map((m) => `'${clipEcho(m)}'`)
              .join(", ")}${fresh.length > 3 ? ", …" : ""}); ` +
            `at most ${this.limits.perServerWeek} are accepted (SRVUTIL_MAX_MOUNTS_PER_SERVER)`,
          { reason: "too_many_server_mounts" },
        );
      }
    }
    if (allStored) return NOTHING_RESERVED;
    const added: { week: WeekMounts; mount: string }[] = [];
    i = 0;
    for (const fileMounts of byWeek.values()) {
      const week = weeks[i++]!;
      for (const m of fileMounts) {
        if (week.stored.has(m)) continue;
        week.pending.set(m, (week.pending.get(m) ?? 0) + 1);
        added.push({ week, mount: m });
      }
    }
    let settled = false;
    const settle = (stored: boolean) => {
      if (settled) return;
      settled = true;
      for (const { week, mount } of added) {
        const n = week.pending.get(mount)! - 1;
        if (n === 0) week.pending.delete(mount);
        else week.pending.set(mount, n);
        if (stored) week.stored.add(mount);
      }
    };
    return { commit: () => settle(true), release: () => settle(false) };
  }

  /** One (server, week)'s mounts, read from storage the first time. */
  private week(server: string, start: number): WeekEntry {
    let weeks = this.servers.get(server);
    if (weeks === undefined) {
      weeks = new Map();
      this.servers.set(server, weeks);
    }
    let entry = weeks.get(start);
    if (entry !== undefined) {
      weeks.delete(start); // set again below: most recently used last
    } else {
      const ready = this.storedMounts(server, start, start + WEEK_MS).then(
        (mounts) => {
          const read: WeekMounts = { stored: new Set(mounts), pending: new Map() };
          created.mounts = read;
          return read;
        },
        (err: unknown) => {
          // A failed read is not remembered: the next upload reads again.
          if (weeks.get(start) === created) weeks.delete(start);
          throw err;
        },
      );
      const created: WeekEntry = { ready, mounts: null };
      entry = created;
    }
    weeks.set(start, entry);
    if (weeks.size > WEEKS_KEPT_PER_SERVER) {
      // The least recently used week that is read and has no file being written to it.
      for (const [oldStart, old] of weeks) {
        if (oldStart !== start && old.mounts !== null && old.mounts.pending.size === 0) {
          weeks.delete(oldStart);
          break;
        }
      }
    }
    return entry;
  }
}

/** The reservation of a file whose mounts are all stored already. */
const NOTHING_RESERVED: MountReservation = Object.freeze({ commit: () => {}, release: () => {} });

/** Refuses a file with a timestamp that has more distinct mounts than `max`. */
function checkPerSample(rows: readonly MetricRow[], max: number): void {
  // Counting rows per timestamp is one map update a row; distinct mounts are
  // counted only for timestamps with more rows than the cap (rare: a file
  // may repeat a row, which is a duplicate, not another mount).
  const perTimestamp = new Map<number, number>();
  let over = false;
  for (const r of rows) {
    const n = (perTimestamp.get(r.timestamp) ?? 0) + 1;
    perTimestamp.set(r.timestamp, n);
    if (n > max) over = true;
  }
  if (!over) return;
  const distinct = new Map<number, Set<string>>();
  for (const [ts, n] of perTimestamp) if (n > max) distinct.set(ts, new Set());
  for (const r of rows) {
    const mounts = distinct.get(r.timestamp);
    if (mounts === undefined) continue;
    mounts.add(r.diskMount);
    if (mounts.size > max) {
      throw new InputError(
        `the sample at ${new Date(r.timestamp).toISOString()} has more than ${max} distinct mounts; ` +
          `at most ${max} are accepted per sample (SRVUTIL_MAX_MOUNTS_PER_SAMPLE)`,
        { reason: "too_many_mounts" },
      );
    }
  }
}
