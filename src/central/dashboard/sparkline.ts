/**
 * The fleet page's 24-hour sparkline: CPU (solid) and memory (dashed) on
 * 0–100 %, one point per hour, gaps where an hour had no samples. Two line
 * styles as well as two colours (Okabe–Ito blue and vermilion), so the pair
 * reads without telling colours apart. Tiny, static SVG: 1,000 of them on a
 * page cost nothing to draw.
 */
export const SPARK_CPU = "#0072B2";
export const SPARK_MEM = "#D55E00";

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
  return (
    `<svg class="spark" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}">` +
    `<rect width="${W}" height="${H}" fill="#f8fafc"/>` +
    `<path d="${path(mem)}" fill="none" stroke="${SPARK_MEM}" stroke-width="1.5" stroke-dasharray="3 2"/>` +
    `<path d="${path(cpu)}" fill="none" stroke="${SPARK_CPU}" stroke-width="1.5"/>` +
    "</svg>"
  );
}
