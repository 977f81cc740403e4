/** Bytes in binary units for people: 1.5 GiB, 930 MiB. */
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = Math.abs(bytes);
  let u = 0;
  // 1023.6 MiB would print as "1024 MiB": switch units before rounding can reach 1024.
  while (v >= 1023.5 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 ? String(Math.round(v)) : v.toFixed(v >= 100 ? 0 : 1);
  return `${bytes < 0 ? "−" : ""}${s} ${units[u]}`;
}
