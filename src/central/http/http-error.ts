import { type ErrorCategory, type ErrorReason, SrvutilError } from "../../errors.js";

/**
 * Characters of an error answer's message. Messages quote input clipped
 * already (clipEcho); this bounds the answer whatever a message holds.
 */
export const MAX_ERROR_MESSAGE_CHARS = 2048;

/**
 * A request the API refuses, with the status and the JSON body it answers:
 * `{"error", "line", "column", "reason", "code"}`. Every 4xx of the API has
 * this shape so clients parse one error format; `code` is derived from
 * `reason` (errorCode in src/errors.ts), and so is the category
 * (reasonCategory): the status says how to answer, not whose fault it is.
 */
export class HttpError extends SrvutilError {
  constructor(
    readonly statusCode: number,
    /** Machine-readable cause (the code's reason), also the label of the rejection counter. */
    reason: ErrorReason,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly line: number | null = null,
    readonly column: string | null = null,
  ) {
    super(reasonCategory(reason), message, { status: statusCode, reason });
  }
}

/**
 * The reasons that are the central's side (errorAnswer gives them for a
 * SrvutilError of that category); every other reason is the client's.
 */
const CENTRAL_SIDE_REASONS: Partial<Readonly<Record<ErrorReason, ErrorCategory>>> = {
  misconfigured: "bad_config",
  unavailable: "unavailable",
  internal: "internal",
};

/** The category of an API refusal, by its reason. */
export function reasonCategory(reason: ErrorReason): ErrorCategory {
  return CENTRAL_SIDE_REASONS[reason] ?? "bad_input";
}
