/**
 * The evaluator reads and judges the fleet in slices of servers, giving the
 * event loop back between them: SQLite's reads are synchronous, and one read
 * of 10,000 servers would hold every upload behind it for its whole length.
 */
export const SLICE_SERVERS = 250;

export function slices<T>(items: readonly T[], size = SLICE_SERVERS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Lets pending I/O (uploads, pages) run before the next slice. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
