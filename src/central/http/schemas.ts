import type { FromSchema } from "json-schema-to-ts";
import { ERROR_REASONS } from "../../errors.js";

/**
 * The body of every 4xx/5xx answer of the API (errorAnswer builds it). It is
 * the one source of that shape: ErrorResponse below is derived from it.
 */
export const errorResponseSchema = {
  type: "object",
  required: ["error", "line", "column", "reason", "code"],
  additionalProperties: false,
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
    reason: {
      type: "string",
      enum: ERROR_REASONS,
      description: "Machine-readable cause (e.g. number, timestamp, unauthorized)",
    },
    code: {
      type: "string",
      description:
        "Stable error code: SRVUTIL_E_ and the reason in capitals (e.g. SRVUTIL_E_HEADER_TOO_LONG)",
    },
  },
} as const;

/** What errorAnswer sends: the schema's type, derived by json-schema-to-ts as for every route schema. */
export type ErrorResponse = FromSchema<typeof errorResponseSchema>;
