import { ERROR_REASONS } from "../../errors.js";

/**
 * The body of every 4xx/5xx answer of the API (errorAnswer builds it). It is
 * the one source of that shape: ErrorResponse below is derived from it.
 */
export const errorResponseSchema = {
  type: "object",
  required: ["error", "line", "column", "reason", "code"],
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

export type ErrorResponse = SchemaObject<typeof errorResponseSchema>;

/**
 * The value an object schema of this file describes: its required properties
 * present, the others optional, each typed from its `enum` or `type`. Enough
 * for the flat schemas here; a type provider (json-schema-to-ts's FromSchema)
 * does the same for any schema.
 */
type SchemaObject<S extends { properties: Record<string, unknown>; required: readonly string[] }> = {
  -readonly [K in keyof S["properties"] & S["required"][number]]: SchemaValue<S["properties"][K]>;
} & {
  -readonly [K in Exclude<keyof S["properties"], S["required"][number]>]?: SchemaValue<S["properties"][K]>;
};

type SchemaValue<P> = P extends { enum: readonly (infer E)[] }
  ? E
  : P extends { type: readonly (infer T)[] }
    ? JsonValue<T>
    : P extends { type: infer T }
      ? JsonValue<T>
      : unknown;

type JsonValue<T> = T extends "string"
  ? string
  : T extends "integer" | "number"
    ? number
    : T extends "boolean"
      ? boolean
      : T extends "null"
        ? null
        : unknown;
