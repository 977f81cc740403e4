import type { MemoryReading } from "./types.js";

export class MemoryParseError extends Error {
  override readonly name = "MemoryParseError";
}

/** Builds a reading with the contract's meaning: used = total − available. */
export function memoryReading(totalBytes: number, availableBytes: number): MemoryReading {
  const total = Math.max(0, Math.round(totalBytes));
  // A kernel can briefly report available > total (accounting races); clamp
  // so the row stays valid instead of being refused by the central.
  const available = Math.min(total, Math.max(0, Math.round(availableBytes)));
  return { totalBytes: total, availableBytes: available, usedBytes: total - available };
}
