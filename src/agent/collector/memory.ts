import { SrvutilError } from "../../errors.js";
import type { MemoryReading } from "./types.js";

export class MemoryParseError extends SrvutilError {
  constructor(message: string) {
    // The OS printed something we cannot read: our bug or an OS we do not know yet.
    super("internal", message);
  }
}

/** Builds a reading with the contract's meaning: used = total − available. */
export function memoryReading(totalBytes: number, availableBytes: number): MemoryReading {
  const total = Math.max(0, Math.round(totalBytes));
  // A kernel can briefly report available > total (accounting races); clamp
  // so the row stays valid instead of being refused by the central.
  const available = Math.min(total, Math.max(0, Math.round(availableBytes)));
  return { totalBytes: total, availableBytes: available, usedBytes: total - available };
}
