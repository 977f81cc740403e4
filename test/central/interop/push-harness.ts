/**
 * What the push route tests share: `central serve` as it runs (the fuzz
 * suite's central: SQLite file, loopback listener, web-01/web-02 agent
 * tokens, stored-state counts), a POST over loopback, and the samples stored
 * for a server.
 */
import { gzipSync } from "node:zlib";
import type { MetricRow } from "../../../src/protocol/index.js";
import type { FuzzCentral } from "../../fuzz/central.js";
import { runCli } from "../../helpers/cli.js";
import { isoWeekAgo } from "../../helpers/clock.js";

export interface Posted {
  status: number;
  contentType: string;
  body: Buffer;
}

export async function post(
  c: FuzzCentral,
  url: string,
  body: string | Buffer,
  headers: Record<string, string>,
  options: { gzip?: boolean } = {},
): Promise<Posted> {
  const raw = typeof body === "string" ? Buffer.from(body) : body;
  const res = await fetch(`${c.url}${url}`, {
    method: "POST",
    headers: options.gzip ? { ...headers, "content-encoding": "gzip" } : headers,
    body: options.gzip ? gzipSync(raw) : raw,
  });
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/** Every stored row of a server (all mounts), oldest first. */
export async function samplesOf(c: FuzzCentral, server: string): Promise<MetricRow[]> {
  const rows: MetricRow[] = [];
  for await (const row of c.store.samples({ from: 0, to: Date.now() + 86_400_000, servers: [server] }))
    rows.push(row);
  return rows;
}

/** A gzip body that inflates to `bytes` of zeros: a few KB on the wire. */
export function gzipBomb(bytes: number): Buffer {
  return gzipSync(Buffer.alloc(bytes), { level: 9 });
}

/** A day of a server in the weekly report (report build --format json). */
export interface ReportDay {
  date: string;
  samples: number;
  cpu: { avg: number | null; peak: number | null };
  memory: { total_bytes: number };
  disks: { mount: string; total_bytes: number; used_bytes: number; free_bytes: number }[];
}

/**
 * Today (UTC) of `server` in this week's report, built by the CLI
 * (`srvutil report build`, the built dist) from the central's data dir with
 * SRVUTIL_REPORT_TZ=UTC; undefined when the report does not name the server.
 */
export async function todayInReport(c: FuzzCentral, server: string): Promise<ReportDay | undefined> {
  const build = await runCli(["report", "build", "--week", isoWeekAgo(0), "--format", "json", "--out", "-"], {
    ...process.env,
    SRVUTIL_DATA_DIR: c.dir,
    SRVUTIL_REPORT_TZ: "UTC",
  });
  if (build.code !== 0) throw new Error(`report build failed (${build.code}): ${build.stderr}`);
  const report = JSON.parse(build.stdout) as { servers: { server: string; days: ReportDay[] }[] };
  const today = new Date().toISOString().slice(0, 10);
  return report.servers.find((s) => s.server === server)?.days.find((d) => d.date === today);
}
