import type { ErrorReason } from "../../errors.js";
/** The body of every 4xx/5xx answer of the API. */
export const errorResponseSchema = {
  type: "object",
  required: ["error", "line", "column"],
  properties: {
    error: { type: "string", description: "What is wrong and what to fix" },
    line: {
      type: ["integer", "null"],
      description: "1-based line of the file where the problem is (400 for a bad file), else null",
    },
    column: {
      type: ["string", "null"],
      description: "Header name of the offending column, or null when the problem is not tied to one",
    },
    reason: { type: "string", description: "Machine-readable cause (e.g. number, timestamp, unauthorized)" },
    code: {
      type: "string",
      description:
        "Stable error code: SRVUTIL_E_ and the reason in capitals (e.g. SRVUTIL_E_HEADER_TOO_LONG)",
    },
  },
} as const;

export interface ErrorResponse {
  error: string;
  line: number | null;
  column: string | null;
  reason: ErrorReason;
  code: string;
}
