/**
 * The fleet page's 24-hour sparkline: CPU (solid) and memory (dashed) on
 * 0–100 %, one point per hour, gaps where an hour had no samples. Two line
 * styles as well as two colours (Okabe–Ito blue and vermilion), so the pair
 * reads without telling colours apart (both set in web/dashboard/app.css,
 * .spark-cpu and .spark-mem). Tiny, static SVG: two paths per row.
 */

export function sparklineSvg(
  cpu: readonly (number | null)[],
  mem: readonly (number | null)[],
  label: string,
): string {
  const W = 120;
  const H = 28;
  // Whole pixels: a 120 × 28 line needs no more, and 1,000 rows stay light.
  const x = (i: number) => Math.round((i / Math.max(1, cpu.length - 1)) * (W - 2) + 1);
  const y = (v: number) => Math.round(H - 1 - (Math.min(100, Math.max(0, v)) / 100) * (H - 2));
  const path = (data: readonly (number | null)[]) => {
    let d = "";
    let pen = false;
    data.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i)} ${y(v)}`;
      pen = true;
    });
    return d;
  };
  // Colours, line styles and the background come from the stylesheet (.spark in app.css): written
  // on every row they were 13 % of the all-rows page (938 → 812 KB). First paint of that page did
  // not measurably change (A/B in one run, 12 loads each: within the noise of this machine).
  return (
    `<svg class="spark" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}">` +
    `<path class="spark-mem" d="${path(mem)}"/><path class="spark-cpu" d="${path(cpu)}"/></svg>`
  );
}
