import type { FastifyError } from "fastify";
import { type ErrorReason, errorCode, SrvutilError } from "../../errors.js";
import { CsvValidationError, clipEcho } from "../../protocol/index.js";
import { ServerMismatchError } from "../ingest/ingest-service.js";
import { HttpError, MAX_ERROR_MESSAGE_CHARS } from "./http-error.js";
import { UPLOAD_CONTENT_TYPES } from "./routes/upload.js";
import type { ErrorResponse } from "./schemas.js";

/**
 * The API's answer to an error: its status, the JSON body
 * `{"error", "line", "column", "reason", "code"}` and any headers. The seed
 * bridge answers the same status, message and code as one line of text.
 */
export function errorAnswer(err: FastifyError | Error): {
  status: number;
  body: ErrorResponse;
  headers: Record<string, string>;
} {
  const answer = (
    status: number,
    reason: ErrorReason,
    error: string,
    line: number | null = null,
    column: string | null = null,
  ) => ({
    status,
    // Messages quote input clipped already; this bounds the answer whatever a message holds.
    body: { error: clipEcho(error, MAX_ERROR_MESSAGE_CHARS), line, column, reason, code: errorCode(reason) },
    headers: {} as Record<string, string>,
  });
  if (err instanceof HttpError) {
    return { ...answer(err.statusCode, err.reason, err.message, err.line, err.column), headers: err.headers };
  }
  if (err instanceof CsvValidationError) {
    return answer(400, err.reason, err.describe(), err.line, err.column);
  }
  if (err instanceof ServerMismatchError) return answer(err.status, "forbidden_server", err.message);
  if (err instanceof SrvutilError) {
    // By category (src/errors.ts). Only the client's own mistakes are explained
    // to the client; configuration and dependency details stay in the log.
    switch (err.category) {
      case "bad_input":
        // Its reason (and so its code) names the mistake; an error that names none has bad_request.
        return answer(err.status, err.reason, err.message);
      case "bad_config":
        return answer(err.status, "misconfigured", "the central is misconfigured; see its log");
      case "unavailable":
        return answer(err.status, "unavailable", "a dependency of the central is unavailable; retry later");
      case "internal":
        return answer(err.status, "internal", "internal error; see the central's log");
    }
  }
  const code = (err as FastifyError).code;
  const status = (err as FastifyError).statusCode;
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || code === "FST_INVALID_MULTIPART_CONTENT_TYPE") {
    return answer(
      415,
      "unsupported_media_type",
      `Content-Type must be one of ${UPLOAD_CONTENT_TYPES.join(", ")} for uploads`,
    );
  }
  if (code === "FST_ERR_CTP_EMPTY_TYPE" || code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
    return answer(
      415,
      "unsupported_media_type",
      "Content-Type is missing: send text/csv or multipart/form-data",
    );
  }
  if (status === 413) return answer(413, "too_large", `request too large: ${err.message}`);
  if (code === "FST_ERR_VALIDATION") return answer(400, "bad_request", err.message);
  if (status !== undefined && status >= 400 && status < 500)
    return answer(status, "bad_request", err.message);
  return answer(500, "internal", "internal error; see the central's log");
}
