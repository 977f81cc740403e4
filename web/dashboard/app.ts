// The dashboard's only script (bundled with uPlot into dist/dashboard/app.js by
// scripts/build-dashboard.mjs). The server page renders static SVG charts; this
// replaces them with interactive uPlot charts (cursor read-out, drag to zoom,
// double-click to reset) drawn from the JSON the page carries. Without it the
// static charts stay, so every page works with scripts off. It also wires the
// Add server page's copy buttons (./copy.ts).
// First, so uPlot finds a locale Intl accepts when it loads (import order is evaluation order).
import "./locale-fallback.js";
import uPlot from "uplot";
import { wireCopyButtons } from "./copy.js";

interface ChartData {
  server: string;
  timeZone: string;
  colors: string[];
  resolution: "hour" | "day";
  /** The requested range, epoch seconds: the x-axis spans it whatever the data covers. */
  from: number;
  to: number;
  t: number[];
  cpuAvg: (number | null)[];
  cpuPeak: (number | null)[];
  memAvg: (number | null)[];
  memPeak: (number | null)[];
  disks: { mount: string; percent: (number | null)[] }[];
}

/**
 * x-axis labels in the page's one convention (2026-12-07, 23:55; 24-hour, as
 * the rest of the page writes times), not uPlot's US defaults ("12/7", "12am").
 * Rows: [tick step (s), label, then the label where the year, month, day,
 * hour, minute, second changes, mode]; a second line names the new day or year.
 */
const TIME_TICKS: (string | number | null)[][] = [
  [3600 * 24 * 365, "{YYYY}", null, null, null, null, null, null, 1],
  [3600 * 24 * 28, "{YYYY}-{MM}", "\n{YYYY}", null, null, null, null, null, 1],
  [3600 * 24, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
  [3600, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [60, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
];

const pct = (_u: uPlot, v: number | null): string =>
  v === null || v === undefined ? "–" : `${v.toFixed(1)} %`;

function draw(): void {
  const el = document.getElementById("chart-data");
  if (el === null || el.textContent === null) return;
  const sent = JSON.parse(el.textContent) as ChartData;
  // A few points are drawn as solid dots: a lone point has no line to show it.
  const sparse = sent.t.length < 3;
  const data = pinToRange(sent);
  if (data.t.length === 0) return;
  const sync = uPlot.sync("server");
  const charts: { plot: uPlot; box: HTMLElement }[] = [];
  const specs: Record<string, { series: uPlot.Series[]; values: (number | null)[][] }> = {
    cpu: {
      series: [
        { label: "CPU avg", stroke: data.colors[0], width: 1.5, value: pct },
        { label: "CPU peak", stroke: data.colors[1], width: 1, dash: [5, 4], value: pct },
      ],
      values: [data.cpuAvg, data.cpuPeak],
    },
    mem: {
      series: [
        { label: "Memory avg", stroke: data.colors[0], width: 1.5, value: pct },
        { label: "Memory peak", stroke: data.colors[1], width: 1, dash: [5, 4], value: pct },
      ],
      values: [data.memAvg, data.memPeak],
    },
    disk: {
      series: data.disks.map((d, i) => ({
        label: d.mount,
        stroke: data.colors[i % data.colors.length],
        width: 1.5,
        ...(i % 2 === 1 ? { dash: [6, 3] } : {}),
        value: pct,
      })),
      values: data.disks.map((d) => d.percent),
    },
  };
  for (const figure of document.querySelectorAll<HTMLElement>("figure[data-chart]")) {
    const spec = specs[figure.dataset.chart ?? ""];
    const box = figure.querySelector<HTMLElement>(".live");
    if (spec === undefined || box === null || spec.series.length === 0) continue;
    const opts: uPlot.Options = {
      width: Math.max(280, box.clientWidth),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), data.timeZone),
      cursor: { sync: { key: sync.key }, drag: { x: true, y: false } },
      scales: { y: { range: [0, 100] } },
      axes: [{ values: TIME_TICKS }, { values: (_u, ticks) => ticks.map((v) => `${v} %`), size: 56 }],
      series: [
        {
          label: data.resolution === "hour" ? "Hour" : "Day",
          value: data.resolution === "hour" ? "{YYYY}-{MM}-{DD} {HH}:{mm}" : "{YYYY}-{MM}-{DD}",
        },
        ...spec.series.map((x) =>
          sparse ? { ...x, points: { show: true, size: 9, fill: x.stroke as string } } : x,
        ),
      ],
      hooks: {
        // The x-axis labels drawn (on the canvas, so out of the DOM's reach), readable by tests:
        // uPlot keeps the formatted labels of the last draw in `_values` (not in its typings).
        draw: [
          (u) => {
            const labels = (u.axes[0] as { _values?: unknown })._values;
            if (Array.isArray(labels)) figure.dataset.xLabels = JSON.stringify(labels);
          },
        ],
        // The x-axis span drawn (epoch seconds), readable by tests and tools; zooming updates it.
        setScale: [
          (u, key) => {
            if (key !== "x") return;
            figure.dataset.xMin = String(u.scales.x?.min ?? "");
            figure.dataset.xMax = String(u.scales.x?.max ?? "");
          },
        ],
      },
    };
    const plot = new uPlot(opts, [data.t, ...spec.values] as uPlot.AlignedData, box);
    figure.classList.add("is-live");
    charts.push({ plot, box });
  }
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const c of charts) c.plot.setSize({ width: Math.max(280, c.box.clientWidth), height: 220 });
    });
  });
}

/**
 * Adds empty points at the range's start and end, so the x-axis (and a
 * double-click reset) spans the requested range even with one sample, which
 * then sits where it belongs instead of filling the chart.
 */
function pinToRange(data: ChartData): ChartData {
  if (data.t.length === 0) return data;
  const first = data.t[0]!;
  const last = data.t[data.t.length - 1]!;
  const before = first > data.from ? 1 : 0;
  const after = last < data.to ? 1 : 0;
  const pad = <T>(values: T[]): (T | null)[] => [
    ...(before ? [null] : []),
    ...values,
    ...(after ? [null] : []),
  ];
  return {
    ...data,
    t: [...(before ? [data.from] : []), ...data.t, ...(after ? [data.to] : [])],
    cpuAvg: pad(data.cpuAvg),
    cpuPeak: pad(data.cpuPeak),
    memAvg: pad(data.memAvg),
    memPeak: pad(data.memPeak),
    disks: data.disks.map((d) => ({ ...d, percent: pad(d.percent) })),
  };
}

function start(): void {
  wireCopyButtons();
  draw();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
