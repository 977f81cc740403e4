import { DateTime } from "luxon";
import { percentChartSvg, type ChartSeries as StaticSeries } from "../report/charts.js";
import { humanBytes } from "../report/format.js";
import type { ArchivedServerEntry } from "../storage/report-archive-store.js";
import type { ServerSummary } from "../storage/sample-store.js";
import type { ScrapeStatus } from "../storage/scrape-status-store.js";
import type { ActiveSession } from "../storage/user-store.js";
import { type Html, html, raw } from "./html.js";
import { ago, daysFromNow, findingLabel, findingShown, isoMinute, page, pct, statusBadge } from "./layout.js";
import { type ChartRange, type ChartSeries, RANGE_LABEL, rangeFigures } from "./series.js";

/*
 * The server page, from what its route (src/central/http/dashboard/server.ts)
 * read: the server, the chart range and its series, its recent reports.
 */

/**
 * The custom range's dates are typed as YYYY-MM-DD, not picked in an
 * `<input type="date">`: that one shows the browser locale's format
 * ("11/30/2026" in en-US), next to the page's 2026-11-30.
 */
const DATE_INPUT = raw(
  'type="text" inputmode="numeric" pattern="\\d{4}-\\d{2}-\\d{2}" size="10" maxlength="10" placeholder="YYYY-MM-DD" required',
);

/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
export const SERIES_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];

/** /servers/NAME: the range's charts and figures, the disk forecast and the findings of recent reports. */
export function serverPage(o: {
  session: ActiveSession;
  /** The server as the store lists it. */
  summary: ServerSummary;
  range: ChartRange;
  series: ChartSeries;
  /** Its entries in the newest reports, newest first. */
  history: readonly ArchivedServerEntry[];
  /** Its memory size now (the newest hour's last sample), or null. */
  memTotalBytes: number | null;
  /** Its scrape state when it is a scrape target (store.scrapeStatus), else null. */
  scrape: ScrapeStatus | null;
  /** Its open alerts, rendered (./alerts-pages.ts serverAlertsSection). */
  alerts: Html;
  /** Its tags and, for admins, their form (./tags-section.ts). */
  tags: Html;
  timeZone: string;
  now: number;
}): { value: string } {
  const { session, summary, range, series, history, memTotalBytes, now } = o;
  const name = summary.server;
  const fig = rangeFigures(series);
  const latest = history[0] ?? null;
  const enc = encodeURIComponent(name);
  const presets = (Object.keys(RANGE_LABEL) as (keyof typeof RANGE_LABEL)[]).map(
    (k) =>
      html`<li><a href="/servers/${enc}?range=${k}"${range.key === k ? html` aria-current="true"` : ""}>${RANGE_LABEL[k]}</a></li>`,
  );
  const data = JSON.stringify({
    server: name,
    timeZone: o.timeZone,
    colors: SERIES_COLORS,
    from: range.from / 1000,
    to: range.to / 1000,
    ...series,
  }).replace(/</g, "\\u003c");
  const tz = o.timeZone;
  const body = html`<p class="crumbs"><a href="/">Fleet</a> › ${name}</p>
<h1>${name}</h1>
<p>${latest === null ? "" : html`${statusBadge(latest.status)} in the report of <a href="/reports/${latest.week}">${latest.week}</a> · `}
last seen <time datetime="${new Date(summary.lastSeen).toISOString()}">${isoMinute(summary.lastSeen, tz)}</time> (${ago(summary.lastSeen, now)}) · first seen ${isoMinute(summary.firstSeen, tz)} · times in ${tz}</p>
${o.scrape === null ? "" : scrapeLine(o.scrape, tz)}
<nav aria-label="Chart range" class="ranges"><ul>${presets}</ul>
<form method="get" action="/servers/${enc}" class="custom-range">
  <input type="hidden" name="range" value="custom">
  <label for="r-from">From</label><input id="r-from" name="from" ${DATE_INPUT} value="${range.fromDate}" aria-describedby="r-format">
  <label for="r-to">To</label><input id="r-to" name="to" ${DATE_INPUT} value="${range.toDate}" aria-describedby="r-format">
  <span class="hint" id="r-format">YYYY-MM-DD</span>
  <button type="submit">Show</button>
</form></nav>
${range.error === null ? "" : html`<p class="notice" role="alert">${range.error}; showing 7 days.</p>`}
<h2>${range.week !== null ? `Week ${range.week}` : range.key === "custom" ? `${range.fromDate} to ${range.toDate}` : `Last ${RANGE_LABEL[range.key]}`}
 <span class="sub">${series.resolution === "hour" ? "hourly points" : "daily points"}, ${series.t.length} of them</span></h2>
${figuresTable(fig, memTotalBytes)}
${series.t.length === 0 ? html`<p class="notice">No samples in this range.</p>` : html`${sparseNote(series)}${charts(series, range, tz, memTotalBytes)}`}
<script type="application/json" id="chart-data">${raw(data)}</script>
${o.alerts}
${o.tags}
${forecastSection(latest, now)}
${findingsSection(history, range.week, now)}`;
  return page({ title: name, session, nav: "fleet", body, script: true });
}

const minute = (ms: number, tz: string): Html =>
  html`<time datetime="${new Date(ms).toISOString()}">${isoMinute(ms, tz)}</time>`;

/**
 * A scrape target's state: where it is scraped from and by which instance,
 * and when its scrape fails, since when and why (the error as the exporter
 * or the connection gave it, escaped like every text here).
 */
export function scrapeLine(s: ScrapeStatus, tz: string): Html {
  const from = html`Scraped from <code>${s.url}</code> by <span class="instance">${s.instance}</span>`;
  if (s.state === "up") {
    return html`<p class="scrape scrape-up">${from}: up, last scrape ${minute(s.lastSuccessAt ?? s.updatedAt, tz)}</p>`;
  }
  return html`<div class="notice scrape-failing" role="alert"><p><strong>Scrape failing since ${minute(s.downSince ?? s.updatedAt, tz)}:</strong> <span class="scrape-error">${s.lastError ?? "no error recorded"}</span></p>
<p class="hint">${from}; last success ${s.lastSuccessAt === null ? "never" : minute(s.lastSuccessAt, tz)}, last try ${minute(s.updatedAt, tz)} or later.</p></div>`;
}

/** Few samples make a chart that looks empty: say how many there are. */
function sparseNote(s: ChartSeries) {
  const samples = s.samples.reduce((a, b) => a + b, 0);
  if (samples >= 12) return "";
  return html`<p class="hint sparse" id="sparse-note">${samples} sample${samples === 1 ? "" : "s"} so far in this range.</p>`;
}

function figuresTable(f: ReturnType<typeof rangeFigures>, memTotalBytes: number | null) {
  return html`<div class="table-wrap"><table class="figures">
<caption>Average and maximum over the range</caption>
<thead><tr><th scope="col">Metric</th><th scope="col">Average</th><th scope="col">Maximum</th></tr></thead>
<tbody>
<tr><th scope="row">CPU</th><td class="num">${pct(f.cpuAvg)}</td><td class="num">${pct(f.cpuMax)} <span class="hint">(peak)</span></td></tr>
<tr><th scope="row">Memory${memTotalBytes === null ? "" : ` (${humanBytes(memTotalBytes)})`}</th><td class="num">${pct(f.memAvg)}</td><td class="num">${pct(f.memMax)}</td></tr>
${f.disks.map(
  (d) =>
    html`<tr><th scope="row">Disk <span class="mount">${d.mount}</span>${d.totalBytes === null ? "" : ` (${humanBytes(d.totalBytes)})`}</th><td class="num">${pct(d.last)} <span class="hint">(now)</span></td><td class="num">${pct(d.max)}</td></tr>`,
)}
</tbody></table></div>`;
}

/** Coarse buckets for the static chart (the report's renderer): hours, days or months. */
function staticBuckets(s: ChartSeries, range: ChartRange, tz: string) {
  const span = range.to - range.from;
  const unit: "hour" | "day" | "month" =
    span <= 2 * 86_400_000 ? "hour" : span <= 62 * 86_400_000 ? "day" : "month";
  const keyOf = (t: number) => {
    const d = DateTime.fromSeconds(t, { zone: tz });
    return unit === "hour"
      ? d.toFormat("yyyy-MM-dd HH")
      : unit === "day"
        ? d.toISODate()!
        : d.toFormat("yyyy-MM");
  };
  const labelOf = (t: number) => {
    const d = DateTime.fromSeconds(t, { zone: tz });
    // Hour and day numbers where the range names the day or month; months as the page writes dates.
    return unit === "hour" ? d.toFormat("HH") : unit === "day" ? d.toFormat("d") : d.toFormat("yyyy-MM");
  };
  const keys: string[] = [];
  const labels: string[] = [];
  const idx: number[] = [];
  s.t.forEach((t) => {
    const k = keyOf(t);
    if (keys[keys.length - 1] !== k) {
      keys.push(k);
      labels.push(labelOf(t));
    }
    idx.push(keys.length - 1);
  });
  const avg = (vals: (number | null)[]) => {
    const sums = new Array(keys.length).fill(0);
    const ns = new Array(keys.length).fill(0);
    vals.forEach((v, i) => {
      if (v !== null) {
        sums[idx[i]!] += v * s.samples[i]!;
        ns[idx[i]!] += s.samples[i]!;
      }
    });
    return sums.map((x, i) => (ns[i] > 0 ? x / ns[i] : null));
  };
  const max = (vals: (number | null)[]) => {
    const out: (number | null)[] = new Array(keys.length).fill(null);
    vals.forEach((v, i) => {
      const j = idx[i]!;
      if (v !== null && (out[j] === null || v > out[j]!)) out[j] = v;
    });
    return out;
  };
  const last = (vals: (number | null)[]) => {
    const out: (number | null)[] = new Array(keys.length).fill(null);
    vals.forEach((v, i) => {
      if (v !== null) out[idx[i]!] = v;
    });
    return out;
  };
  return { unit, labels, avg, max, last };
}

function charts(s: ChartSeries, range: ChartRange, tz: string, memTotalBytes: number | null) {
  const b = staticBuckets(s, range, tz);
  const per = b.unit === "hour" ? "per hour" : b.unit === "day" ? "per day" : "per month";
  const figure = (id: string, title: string, desc: string, svg: string) =>
    html`<figure class="chart" data-chart="${id}" aria-labelledby="${id}-t">
<figcaption id="${id}-t">${title}</figcaption>
<div class="static" role="img" aria-label="${desc}">${raw(svg)}</div>
<div class="live" aria-hidden="true"></div>
</figure>`;
  const cpu: StaticSeries[] = [
    { name: "CPU avg", kind: "bar", color: "#56B4E9", data: b.avg(s.cpuAvg) },
    { name: "CPU peak", kind: "line", color: "#0072B2", dashed: true, data: b.max(s.cpuPeak) },
  ];
  const mem: StaticSeries[] = [
    { name: "Memory avg", kind: "bar", color: "#E69F00", data: b.avg(s.memAvg) },
    { name: "Memory peak", kind: "line", color: "#D55E00", dashed: true, data: b.max(s.memPeak) },
  ];
  const disk: StaticSeries[] = s.disks.map((d, i) => ({
    name: d.mount,
    kind: "line",
    color: SERIES_COLORS[i % SERIES_COLORS.length]!,
    dashed: i % 2 === 1,
    data: b.last(d.percent),
  }));
  return html`<div class="charts">
${figure("cpu", "CPU, average and peak (%)", `CPU average and peak ${per}`, percentChartSvg(b.labels, cpu))}
${figure("mem", `Memory used, average and peak (%${memTotalBytes === null ? "" : ` of ${humanBytes(memTotalBytes)}`})`, `Memory used ${per}`, percentChartSvg(b.labels, mem))}
${s.disks.length === 0 ? "" : figure("disk", "Disk used per mount (%)", `Disk used ${per} for ${s.disks.map((d) => d.mount).join(", ")}`, percentChartSvg(b.labels, disk))}
</div>`;
}

function forecastSection(latest: ArchivedServerEntry | null, now: number) {
  if (latest === null)
    return html`<h2>Disk-full forecast</h2><p class="hint">No report covers this server yet.</p>`;
  return html`<h2>Disk-full forecast <span class="sub">from the report of ${latest.week}</span></h2>
${
  latest.forecasts.length === 0
    ? html`<p>No disk is expected to fill up at its recent growth rate.</p>`
    : html`<div class="table-wrap"><table><thead><tr><th scope="col">Mount</th><th scope="col">Full on</th><th scope="col">Days from today</th><th scope="col">Growth</th><th scope="col">Fit (R²)</th></tr></thead><tbody>
${latest.forecasts.map(
  (f) =>
    html`<tr><th scope="row"><span class="mount">${f.mount}</span></th><td>${f.full_date}</td><td class="num">${Math.max(0, daysFromNow(f.full_date, now))}</td><td class="num">${humanBytes(f.growth_bytes_per_day)}/day</td><td class="num">${f.r2.toFixed(2)}</td></tr>`,
)}</tbody></table></div>`
}`;
}

function findingsSection(history: readonly ArchivedServerEntry[], week: string | null, now: number) {
  if (history.length === 0) return "";
  return html`<h2>Findings from recent reports</h2>
${history.map(
  (
    h,
  ) => html`<section class="report-findings${h.week === week ? " current" : ""}" aria-labelledby="f-${h.week}-${h.group}">
<h3 id="f-${h.week}-${h.group}"><a href="/reports/${h.week}${h.group === "default" ? "" : `?group=${encodeURIComponent(h.group)}`}">${h.week}</a>${h.group === "default" ? "" : ` (${h.group})`} ${statusBadge(h.status)}</h3>
${
  h.findings.length === 0
    ? html`<p>No findings.</p>`
    : html`<ul class="findings">${h.findings.map(
        (f) =>
          html`<li><span class="sev sev-${f.severity}">${f.severity}</span> <span class="kind">${findingLabel(f.kind)}</span>${f.mount === undefined ? "" : html` <span class="mount">${f.mount}</span>`}: ${findingShown(f, now)}</li>`,
      )}</ul>`
}
</section>`,
)}`;
}
