import { existsSync } from "node:fs";
import { Resvg } from "@resvg/resvg-js";
import { DateTime } from "luxon";
import { escapeHtml } from "./escape.js";
import type { ServerReport } from "./types.js";

/**
 * Server-side charts as SVG, rendered by a small purpose-built renderer
 * (bars and lines over seven days on a 0–100 % axis), then PNG via resvg for
 * mail clients that do not show SVG. ECharts' SSR mode was measured first at
 * 10–25 ms per chart here, which puts a 1,000-server report (2,000 charts)
 * far beyond the 10 s budget; this renderer takes well under 1 ms.
 * Fonts: DejaVu Sans, which Debian ships (fonts-dejavu-core); resvg is pointed
 * at it, and the SVG names generic fallbacks for browsers without it.
 */
export const CHART_WIDTH = 640;
export const CHART_HEIGHT = 190;

/** A chart's drawing size and type size; the layout follows the type size. */
export interface ChartSize {
  width: number;
  height: number;
  fontSize: number;
}

/** Web pages and the standalone report: the chart is shown near its own width. */
export const PAGE_CHART: ChartSize = { width: CHART_WIDTH, height: CHART_HEIGHT, fontSize: 11 };

/**
 * The email's PNGs are shown 564 px wide on a desktop and about 340 px on a
 * phone. Drawn 440 wide with 13.5-px type, their labels are still 10 px on the
 * phone (a 640-wide chart's 11-px type would shrink to under 6 px).
 */
export const EMAIL_CHART: ChartSize = { width: 440, height: 200, fontSize: 13.5 };
const FONT_FAMILY = "'DejaVu Sans', Verdana, Arial, sans-serif";
const FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts"].filter((d) => existsSync(d));

export interface Chart {
  /** Short id unique within the report (used for cid: and file names). */
  id: string;
  title: string;
  /** Describes what the chart shows, for alt text and the plain-text part. */
  alt: string;
  svg: string;
}

const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

export interface ChartSeries {
  /** Agent-supplied (mount names): escaped when drawn. */
  name: string;
  kind: "bar" | "line";
  color: string;
  dashed?: boolean;
  data: (number | null)[];
}

const n1 = (v: number): string => (Math.round(v * 10) / 10).toString();

/** A percent chart (0–100 %) over categories: bars and lines, legend on top. */
export function percentChartSvg(
  categories: string[],
  series: ChartSeries[],
  size: ChartSize = PAGE_CHART,
): string {
  const W = size.width;
  const H = size.height;
  const f = size.fontSize;
  const em = f / 11;
  const left = Math.round(46 * em);
  const right = 14;
  const top = Math.round(34 * em);
  const bottom = Math.round(26 * em);
  const pw = W - left - right;
  const ph = H - top - bottom;
  const band = pw / Math.max(1, categories.length);
  const y = (v: number): number => top + ph - (Math.min(100, Math.max(0, v)) / 100) * ph;
  const cx = (i: number): number => left + band * i + band / 2;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT_FAMILY}" font-size="${f}">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  for (const tick of [0, 25, 50, 75, 100]) {
    const ty = n1(y(tick));
    out.push(
      `<line x1="${left}" x2="${W - right}" y1="${ty}" y2="${ty}" stroke="${tick === 0 ? "#9ca3af" : "#e5e7eb"}" stroke-width="1"/>`,
      `<text x="${left - 6}" y="${n1(y(tick) + 4 * em)}" text-anchor="end" fill="#6b7280">${tick} %</text>`,
    );
  }
  categories.forEach((c, i) => {
    out.push(
      `<text x="${n1(cx(i))}" y="${n1(H - 8 * em)}" text-anchor="middle" fill="#374151">${escapeHtml(c)}</text>`,
    );
  });
  const bars = series.filter((s) => s.kind === "bar");
  const barWidth = Math.min(24, (band * 0.6) / Math.max(1, bars.length));
  bars.forEach((s, b) => {
    s.data.forEach((v, i) => {
      if (v === null) return;
      const x = cx(i) - (barWidth * bars.length) / 2 + b * barWidth;
      const yy = y(v);
      out.push(
        `<rect x="${n1(x)}" y="${n1(yy)}" width="${n1(barWidth - 2)}" height="${n1(top + ph - yy)}" fill="${s.color}" rx="1.5"/>`,
      );
    });
  });
  for (const s of series.filter((x) => x.kind === "line")) {
    // Lines break where a day has no data rather than bridging the gap.
    let path = "";
    let pen = false;
    s.data.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${n1(cx(i))} ${n1(y(v))}`;
      pen = true;
    });
    if (path !== "") {
      out.push(
        `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5 4"' : ""} stroke-linejoin="round"/>`,
      );
    }
    s.data.forEach((v, i) => {
      if (v !== null) {
        out.push(
          `<circle cx="${n1(cx(i))}" cy="${n1(y(v))}" r="3" fill="#ffffff" stroke="${s.color}" stroke-width="1.6"/>`,
        );
      }
    });
  }
  // Legend.
  let lx = left;
  for (const s of series) {
    const name = s.name.length > 28 ? `${s.name.slice(0, 27)}…` : s.name;
    const mid = n1(13.5 * em);
    if (s.kind === "bar")
      out.push(
        `<rect x="${n1(lx)}" y="${n1(9 * em)}" width="14" height="${n1(9 * em)}" rx="1.5" fill="${s.color}"/>`,
      );
    else {
      out.push(
        `<line x1="${n1(lx)}" x2="${n1(lx + 16)}" y1="${mid}" y2="${mid}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="4 3"' : ""}/>`,
        `<circle cx="${n1(lx + 8)}" cy="${mid}" r="2.6" fill="#ffffff" stroke="${s.color}" stroke-width="1.5"/>`,
      );
    }
    out.push(`<text x="${n1(lx + 21)}" y="${n1(17.5 * em)}" fill="#374151">${escapeHtml(name)}</text>`);
    lx += 21 + name.length * 6.8 * em + 16;
  }
  out.push("</svg>");
  return out.join("");
}

/** The charts of one server: CPU and memory per day, disk % per mount. */
export function serverCharts(server: ServerReport, index: number, size: ChartSize = PAGE_CHART): Chart[] {
  const labels = server.days.map((d) => DateTime.fromISO(d.date).toFormat("ccc d"));
  const charts: Chart[] = [];
  const cpuAvg = server.days.map((d) => d.cpu.avg);
  const cpuPeak = server.days.map((d) => d.cpu.peak);
  const mem = server.days.map((d) => d.memory.percent_avg);
  charts.push({
    id: `s${index}-cpu-mem`,
    title: "CPU and memory per day",
    alt: `${server.server}: CPU average per day ${fmtSeries(cpuAvg)}; CPU peak ${fmtSeries(cpuPeak)}; memory used ${fmtSeries(mem)}`,
    svg: percentChartSvg(
      labels,
      [
        { name: "CPU avg", kind: "bar", color: "#93c5fd", data: cpuAvg },
        { name: "CPU peak", kind: "line", color: "#1d4ed8", dashed: true, data: cpuPeak },
        { name: "Memory avg", kind: "line", color: "#059669", data: mem },
      ],
      size,
    ),
  });
  const mounts = [...new Set(server.days.flatMap((d) => d.disks.map((x) => x.mount)))].sort();
  if (mounts.length > 0) {
    const series: ChartSeries[] = mounts.map((mount, i) => ({
      name: mount,
      kind: "line",
      color: PALETTE[i % PALETTE.length]!,
      data: server.days.map((d) => d.disks.find((x) => x.mount === mount)?.percent ?? null),
    }));
    charts.push({
      id: `s${index}-disk`,
      title: "Disk used per mount",
      alt: `${server.server}: disk used per day, ${series.map((s) => `${s.name} ${fmtSeries(s.data)}`).join("; ")}`,
      svg: percentChartSvg(labels, series, size),
    });
  }
  return charts;
}

function fmtSeries(values: (number | null)[]): string {
  return values.map((v) => (v === null ? "no data" : `${v.toFixed(0)} %`)).join(", ");
}

/** PNG at 2× for sharp text on high-density screens. */
/** PNG at twice the drawing width, sharp on high-density screens. */
export function svgToPng(svg: string, size: ChartSize = PAGE_CHART): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "width", value: size.width * 2 },
    background: "#ffffff",
    font: { loadSystemFonts: FONT_DIRS.length === 0, fontDirs: FONT_DIRS, defaultFontFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}
