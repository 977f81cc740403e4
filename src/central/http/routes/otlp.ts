import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isOtlpFamilyRead, type OtlpBatch, otlpToPointGroups } from "../../ingest/interop/otlp.js";
import { decodeOtlpJson } from "../../ingest/interop/otlp-json.js";
import { OtlpDecodeError } from "../../ingest/interop/otlp-model.js";
import {
  decodeOtlpProtobuf,
  encodeOtlpResponse,
  encodeRpcStatus,
} from "../../ingest/interop/otlp-protobuf.js";
import type { InteropBatchResult } from "../../ingest/interop/sink.js";
import { errorAnswer } from "../error-answer.js";
import { HttpError } from "../http-error.js";
import { asPushError, mediaTypeOf, pushRoute } from "../push.js";

const PROTOBUF = "application/x-protobuf";
const JSON_TYPE = "application/json";
const OTLP_MEDIA_TYPES = [PROTOBUF, JSON_TYPE];

/** ExportMetricsServiceResponse in OTLP/JSON (int64 as a decimal string, as proto3's JSON mapping has it). */
const exportResponseSchema = {
  type: "object",
  properties: {
    partialSuccess: {
      type: "object",
      required: ["rejectedDataPoints", "errorMessage"],
      properties: {
        rejectedDataPoints: { type: "string", description: "Data points refused (int64 as a string)" },
        errorMessage: { type: "string", description: "Why, for the collector's log" },
      },
    },
  },
} as const;

/**
 * POST /v1/metrics: OTLP/HTTP metrics from an OpenTelemetry Collector (the
 * hostmetrics receiver) or an SDK, protobuf or JSON, gzip or not. The answer
 * is an ExportMetricsServiceResponse in the request's encoding, with
 * partial_success when some data points were refused. Errors: 400 for what
 * retrying cannot fix (OTLP clients retry only 429, 502, 503 and 504), 403 for
 * a server the token may not write; with protobuf the body is a
 * google.rpc.Status, with JSON the API's error body.
 */
export const otlpRoute = pushRoute({
  path: "/v1/metrics",
  mediaTypes: OTLP_MEDIA_TYPES,
  summary: "OTLP/HTTP metrics (OpenTelemetry Collector, SDKs)",
  description:
    "Body: ExportMetricsServiceRequest as application/x-protobuf or application/json, optionally gzip. " +
    "Reads system.cpu.time, system.memory.usage, system.linux.memory.available, system.memory.limit and " +
    "system.filesystem.usage; the server is the resource attribute SRVUTIL_OTLP_SERVER_ATTRIBUTE " +
    "(default host.name). See docs/integrations.md.",
  body: "an ExportMetricsServiceRequest",
  ok: {
    ...exportResponseSchema,
    description:
      "Stored (or already stored: a replay changes nothing). ExportMetricsServiceResponse in the request's encoding; partialSuccess names refused points",
  },
  badRequest: "Malformed request, or no usable data point; nothing stored",
  badMediaType: "Not protobuf or JSON, or an unsupported Content-Encoding",
  formatError: OtlpDecodeError,
  errorHandler: otlpError,
  decode: (body, mediaType) =>
    mediaType === PROTOBUF
      ? decodeOtlpProtobuf(body, isOtlpFamilyRead)
      : decodeOtlpJson(body, isOtlpFamilyRead),
  answer: async (resources, { writer, mediaType, reply }, deps) => {
    const batch = otlpToPointGroups(resources, deps.labels.otlpServerAttribute);
    if (batch.groups.length === 0 && batch.rejectedPoints > 0) {
      throw new HttpError(
        400,
        "bad_body",
        `no usable data point: ${batch.rejectedPoints} refused (${batch.rejections.join("; ")})`,
      );
    }
    const result = batch.groups.length === 0 ? null : await deps.sink.accept(batch.groups, "otlp", writer);
    const partial = partialSuccess(batch, result);
    if (mediaType === PROTOBUF) return reply.code(200).type(PROTOBUF).send(encodeOtlpResponse(partial));
    return reply.code(200).send(
      partial === null
        ? {}
        : {
            partialSuccess: {
              rejectedDataPoints: String(partial.rejectedDataPoints),
              errorMessage: partial.errorMessage,
            },
          },
    );
  },
});

/**
 * partial_success of an accepted request: the points refused while decoding,
 * and those of instants the sink found without a family (they gave no sample).
 */
function partialSuccess(
  batch: OtlpBatch,
  result: InteropBatchResult | null,
): { rejectedDataPoints: number; errorMessage: string } | null {
  let rejected = batch.rejectedPoints;
  const reasons = [...batch.rejections];
  const incomplete = result?.incomplete ?? [];
  if (incomplete.length > 0) {
    const key = (server: string, timestamp: number) => `${server}\0${timestamp}`;
    const points = new Map(
      batch.groups.map((g, i) => [key(g.server, g.timestamp), batch.pointsPerGroup[i] ?? 0]),
    );
    for (const g of incomplete) rejected += points.get(key(g.server, g.timestamp)) ?? 0;
    const first = incomplete[0]!;
    reasons.push(
      `${incomplete.length} instant(s) without ${[...new Set(incomplete.flatMap((g) => g.missing))].join(", ")} ` +
        `gave no sample (first: ${first.server} at ${new Date(first.timestamp).toISOString()})`,
    );
  }
  if (rejected === 0 && reasons.length === 0) return null;
  return { rejectedDataPoints: rejected, errorMessage: reasons.join("; ") };
}

/** gRPC status codes of google.rpc.Status, by the HTTP status answered. */
function grpcCode(status: number): number {
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return 7; // PERMISSION_DENIED
  if (status === 413 || status === 429) return 8; // RESOURCE_EXHAUSTED
  if (status === 503) return 14; // UNAVAILABLE
  if (status >= 500) return 13; // INTERNAL
  return 3; // INVALID_ARGUMENT
}

/** Errors in the request's encoding: google.rpc.Status for protobuf, the API's error body otherwise. */
function otlpError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  const { status, body, headers } = errorAnswer(asPushError(err, req, OTLP_MEDIA_TYPES));
  if (status >= 500) req.log.error({ err, client: req.client?.address }, "request failed");
  if (mediaTypeOf(req) === PROTOBUF) {
    return reply
      .code(status)
      .headers(headers)
      .type(PROTOBUF)
      .send(encodeRpcStatus(grpcCode(status), `${body.code}: ${body.error}`));
  }
  return reply.code(status).headers(headers).send(body);
}
