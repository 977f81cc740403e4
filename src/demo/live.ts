import { type DemoServerProfile, demoSender, type SimulationRange, simulateServer } from "./fleet.js";
import { postMetrics } from "./upload.js";

/** How often the simulated servers upload while the demo serves, and their sample interval. */
export const LIVE_UPLOAD_EVERY_MS = 60_000;
export const LIVE_INTERVAL_SECONDS = 60;

export interface LiveFleetOptions {
  centralUrl: string;
  /** Each simulated server with its agent token. */
  servers: { profile: DemoServerProfile; token: string }[];
  /** Day 0 and the report week's end of the history, so the live curves continue it. */
  origin: number;
  anchor: number;
  /** Samples from here on are still to upload (the end of the uploaded history). */
  since: number;
  everyMs?: number;
  clock?: () => number;
  /** Told about each tick's outcome (the demo prints failures, not every upload). */
  onError?: (server: string, message: string) => void;
}

export interface LiveFleet {
  /** Uploads what is due now (the timer calls it; tests call it directly). */
  tick(): Promise<{ uploads: number; rows: number }>;
  stop(): void;
}

/**
 * Keeps the demo fleet alive: every minute each simulated server uploads its
 * samples since its last upload through the real ingest API, as an agent
 * does. The deliberately silent server stays silent.
 */
export function startLiveFleet(o: LiveFleetOptions): LiveFleet {
  const clock = o.clock ?? Date.now;
  const cursor = new Map(o.servers.map((s) => [s.profile.name, o.since]));
  let running: Promise<{ uploads: number; rows: number }> | null = null;

  const once = async () => {
    const now = clock();
    let uploads = 0;
    let rows = 0;
    for (const { profile, token } of o.servers) {
      if (profile.silentForHours !== undefined) continue;
      const from = cursor.get(profile.name) ?? o.since;
      const range: SimulationRange = {
        from,
        to: now,
        intervalSeconds: LIVE_INTERVAL_SECONDS,
        origin: o.origin,
        anchor: o.anchor,
      };
      const files = simulateServer(profile, range);
      try {
        for (const file of files) {
          const res = await postMetrics(o.centralUrl, token, file, demoSender(profile));
          if (res.status !== 201) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
          uploads++;
          rows += (res.body as { rows: number }).rows;
        }
        // The next upload starts after the last sample sent (simulateServer stops before `to`).
        const last = files.at(-1)?.at(-1)?.timestamp;
        if (last !== undefined) cursor.set(profile.name, last + 1);
      } catch (err) {
        o.onError?.(profile.name, (err as Error).message);
      }
    }
    return { uploads, rows };
  };

  const tick = () => {
    // One tick at a time: a slow central must not get overlapping uploads.
    running ??= once().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void tick(), o.everyMs ?? LIVE_UPLOAD_EVERY_MS);
  timer.unref();
  return { tick, stop: () => clearInterval(timer) };
}
