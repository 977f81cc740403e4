import type { AlertHour, AlertStore } from "../storage/alert-store.js";
import { SLICE_SERVERS, slices, yieldToEventLoop } from "./slices.js";

const HOUR_MS = 3_600_000;

interface Cached {
  fromHour: number;
  toHour: number;
  /** Each server's hours in [fromHour, toHour), chronological. */
  hours: Map<string, AlertHour[]>;
  /**
   * Each server's last sample when its hours were last read complete: the
   * hour that holds it had folded it. A server whose last sample is not
   * here (new, or not folded when read) is read again at the next evaluation.
   */
  seen: Map<string, number>;
}

/**
 * The hourly rollups the rules read, without reading three days of every
 * server every minute. A server whose last sample moved since its hours
 * were read has its hours read again from the hour of the last sample seen
 * then: what an agent sends is newer than what it sent before, a backlog
 * after an outage included. A server whose last sample the rollup had not
 * folded yet (the refresh runs every 30 s, after the upload) is read again
 * at the next evaluation. Every hour of every server is read once an hour,
 * when the window moves: that is when samples sent behind a server's last
 * one (an import of old data, a second input for the same name) are seen.
 * At 10,000 servers uploading every 20 minutes, a minute's evaluation reads
 * one or two hours of about 500 servers instead of 73 hours of 10,000; with
 * 60-s uploads, one or two hours of each.
 */
export class AlertHourCache {
  private cached: Cached | null = null;

  constructor(
    private readonly store: Pick<AlertStore, "hours">,
    /** Servers per read (./slices.ts): fewer, larger reads where no event loop waits (the worker). */
    private readonly sliceServers = SLICE_SERVERS,
  ) {}

  /** Every server's hours in [now − historyHours − 1 h, now], chronological. */
  async read(
    now: number,
    historyHours: number,
    lastSeen: ReadonlyMap<string, number>,
  ): Promise<Map<string, AlertHour[]>> {
    const hourNow = now - (now % HOUR_MS);
    const fromHour = hourNow - (historyHours + 1) * HOUR_MS;
    const toHour = hourNow + HOUR_MS;
    let c = this.cached;
    if (c === null || c.fromHour !== fromHour) {
      const all = [...lastSeen.keys()];
      c = { fromHour, toHour, hours: await this.sliced(fromHour, toHour, all), seen: new Map() };
      this.cached = c;
      markFolded(c, all, lastSeen);
    } else {
      for (const [from, servers] of movedByFirstHour(c, lastSeen)) {
        const fresh = await this.sliced(from, toHour, servers);
        for (const server of servers) {
          const hours = [
            ...(c.hours.get(server) ?? []).filter((h) => h.hour < from),
            ...(fresh.get(server) ?? []),
          ];
          if (hours.length > 0) c.hours.set(server, hours);
          else c.hours.delete(server);
        }
        markFolded(c, servers, lastSeen);
      }
    }
    const out = new Map<string, AlertHour[]>();
    for (const server of lastSeen.keys()) {
      const hours = c.hours.get(server);
      if (hours !== undefined) out.set(server, hours);
    }
    return out;
  }

  /** store.hours of `servers`, a slice at a time, the event loop free in between. */
  private async sliced(
    from: number,
    to: number,
    servers: readonly string[],
  ): Promise<Map<string, AlertHour[]>> {
    const out = new Map<string, AlertHour[]>();
    for (const slice of slices(servers, this.sliceServers)) {
      for (const [server, hours] of await this.store.hours(from, to, slice)) out.set(server, hours);
      await yieldToEventLoop();
    }
    return out;
  }
}

/**
 * The servers whose last sample moved, by the first hour that can have
 * changed: the hour of the last sample seen before, or the whole window for
 * a server not seen before (or whose last sample went back: deleted data).
 */
function movedByFirstHour(c: Cached, lastSeen: ReadonlyMap<string, number>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [server, at] of lastSeen) {
    const before = c.seen.get(server);
    if (before === at) continue;
    const from =
      before === undefined || before > at ? c.fromHour : Math.max(c.fromHour, before - (before % HOUR_MS));
    const list = out.get(from);
    if (list === undefined) out.set(from, [server]);
    else list.push(server);
  }
  return out;
}

/** Records as seen the servers whose hours hold their last sample; the others keep what was seen before. */
function markFolded(c: Cached, servers: readonly string[], lastSeen: ReadonlyMap<string, number>): void {
  for (const server of servers) {
    const at = lastSeen.get(server)!;
    if (folded(c, server, at)) c.seen.set(server, at);
  }
}

/**
 * True when the hours read hold the server's last sample (`at`): its hour's
 * last_ts reached it. A last sample outside the window (silent for days, or
 * stamped ahead of the clock) is in no hour the rules read: nothing to wait for.
 */
function folded(c: Cached, server: string, at: number): boolean {
  const hour = at - (at % HOUR_MS);
  if (hour < c.fromHour || hour >= c.toHour) return true;
  return c.hours.get(server)?.some((h) => h.hour === hour && h.lastTs >= at) ?? false;
}
