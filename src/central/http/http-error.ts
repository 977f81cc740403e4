import { type ErrorReason, SrvutilError } from "../../errors.js";

/**
 * Characters of an error answer's message. Messages quote input clipped
 * already (clipEcho); this bounds the answer whatever a message holds.
 */
export const MAX_ERROR_MESSAGE_CHARS = 2048;

/**
 * A request the API refuses, with the status and the JSON body it answers:
 * `{"error", "line", "column", "reason", "code"}`. Every 4xx of the API has
 * this shape so clients parse one error format; `code` is derived from
 * `reason` (errorCode in src/errors.ts).
 */
export class HttpError extends SrvutilError {
  constructor(
    readonly statusCode: number,
    /** Machine-readable cause, also the label of the rejection counter. */
    readonly reason: ErrorReason,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly line: number | null = null,
    readonly column: string | null = null,
  ) {
    super(statusCode === 503 ? "unavailable" : statusCode >= 500 ? "internal" : "bad_input", message, {
      status: statusCode,
    });
  }
}
