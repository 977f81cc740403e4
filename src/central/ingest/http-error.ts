import { SrvutilError } from "../../errors.js";

/**
 * A request the API refuses, with the status and the JSON body it answers:
 * `{"error", "line", "column", "reason"}`. Every 4xx of the API has this shape
 * so clients parse one error format.
 */
export class HttpError extends SrvutilError {
  constructor(
    readonly statusCode: number,
    /** Machine-readable cause, also the label of the rejection counter. */
    readonly reason: string,
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
