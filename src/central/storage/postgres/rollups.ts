import type { MetricRow } from "../../../protocol/index.js";
import {
  type DayAggregate,
  type DaySpan,
  type HourAggregate,
  hourlyRollupsFit,
  ServerRowAggregator,
} from "../../aggregate/rows.js";
import type { RollupRefreshResult, RollupStore } from "../rollup-store.js";
import type { SampleQuery } from "../store.js";

const NOTHING_TO_DO: RollupRefreshResult = { uploads: 0, hours: 0, rebuilt: false, more: false };

/**
 * The rollup port on PostgreSQL, for now computed from the raw rows on every
 * read: exact, but it costs a scan of the samples (the rollup tables come
 * next). refresh and rebuild have nothing to keep.
 */
export class PgRawRollupStore implements RollupStore {
  constructor(private readonly samples: (query: SampleQuery) => AsyncIterable<MetricRow>) {}

  async registerZone(): Promise<void> {}

  async refresh(): Promise<RollupRefreshResult> {
    return NOTHING_TO_DO;
  }

  async rebuild(): Promise<RollupRefreshResult> {
    return { ...NOTHING_TO_DO, rebuilt: true };
  }

  async readDaily(
    tz: string,
    span: DaySpan,
    servers: readonly string[],
  ): Promise<Map<string, DayAggregate[]>> {
    if (!hourlyRollupsFit(span)) throw new Error(`readDaily: days in ${tz} do not start on whole UTC hours`);
    const from = span.dayStarts[0]!;
    const to = span.dayStarts[span.dayStarts.length - 1]!;
    const out = new Map<string, DayAggregate[]>();
    for (const server of servers) {
      const agg = new ServerRowAggregator(server, span);
      for await (const row of this.samples({ from, to, servers: [server] })) agg.add(row);
      out.set(server, agg.finish());
    }
    return out;
  }

  async readHourly(server: string, from: number, to: number): Promise<HourAggregate[]> {
    // One "day" spanning the range: its hour buckets are the same as in any day split.
    const agg = new ServerRowAggregator(server, { dates: ["range"], dayStarts: [from, to] });
    for await (const row of this.samples({ from, to, servers: [server] })) agg.add(row);
    return agg.finishWithHours(from).hours;
  }
}
