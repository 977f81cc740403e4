import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { InteropWriter } from "../../ingest/interop/point-group.js";
import { groupsFromPromSamples } from "../../ingest/interop/prometheus-families.js";
import { decodeWriteRequest } from "../../ingest/interop/remote-write.js";
import { serverFromLabel } from "../../ingest/interop/server-label.js";
import { decodeSnappyBlock } from "../../ingest/interop/snappy.js";
import { tooLarge } from "../body.js";
import { HttpError } from "../http-error.js";
import { type InteropRouteDeps, PUSH_SECURITY, requireInteropWriter } from "../interop-auth.js";
import { errorResponseSchema } from "../schemas.js";

export const PROMETHEUS_WRITE_PATH = "/api/v1/prometheus/write";

/** The one message remote_write 1.0 sends; 2.0 names io.prometheus.write.v2.Request. */
const WRITE_REQUEST_V1 = "prometheus.WriteRequest";

/**
 * POST /api/v1/prometheus/write: Prometheus remote_write 1.0 (a snappy
 * block-compressed prometheus.WriteRequest), mapped by the node_exporter
 * and windows_exporter families (../../ingest/interop/prometheus-families.ts)
 * and stored through the InteropSink. Authentication, the content type, the
 * encoding and the declared length are checked in onRequest, before the
 * body is read. Prometheus retries 5xx (and 429) and drops a batch on any
 * other 4xx, so every refusal of the body itself is a 4xx: malformed 400,
 * forbidden server 403, too large 413, a 2.0 body 415, too old 422; a
 * database that does not answer is 503 and the batch comes again.
 */
export const prometheusWriteRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: InteropRouteDeps }> = async (
  app,
  deps,
) => {
  const writerOf = new WeakMap<FastifyRequest, InteropWriter>();
  const serverLabel = deps.labels.prometheusServerLabel;

  // Only this plugin reads protobuf: the raw body, capped on the wire by fastify (413).
  app.addContentTypeParser(
    "application/x-protobuf",
    { parseAs: "buffer", bodyLimit: deps.maxBodyBytes },
    (_req, body, done) => done(null, body),
  );

  app.post(
    PROMETHEUS_WRITE_PATH,
    {
      schema: {
        summary: "Prometheus remote_write 1.0",
        description:
          "Body: a prometheus.WriteRequest, snappy block-compressed (Content-Encoding: snappy, " +
          "Content-Type: application/x-protobuf). Series of the node_exporter and windows_exporter " +
          `families srvutil reads become samples of the server named by the ${serverLabel} label ` +
          "(SRVUTIL_PROMETHEUS_SERVER_LABEL); other families are ignored, stale markers dropped. " +
          "Stored completely or not at all; a replay changes nothing. See docs/integrations.md.",
        tags: ["ingest"],
        security: PUSH_SECURITY,
        response: {
          204: {
            description: "Stored (also a replay, or a request with no samples such as metadata only)",
            type: "null",
          },
          400: {
            ...errorResponseSchema,
            description:
              "Malformed body (not snappy, not a WriteRequest), an invalid server name, no series with the server label, or (missing_families) samples without the families a sample needs",
          },
          401: { ...errorResponseSchema, description: "Missing, unknown or revoked agent or relay token" },
          403: {
            ...errorResponseSchema,
            description: "A series names a server the token may not write; nothing was stored",
          },
          413: {
            ...errorResponseSchema,
            description:
              "Body larger than SRVUTIL_MAX_BODY_BYTES on the wire or uncompressed, or too many samples in one request",
          },
          415: {
            ...errorResponseSchema,
            description:
              "Not application/x-protobuf, a remote_write 2.0 body, or not Content-Encoding: snappy",
          },
          422: {
            ...errorResponseSchema,
            description: "A sample is older than the ingest horizon (sample_too_old); nothing was stored",
          },
          429: {
            ...errorResponseSchema,
            description: "Too many failed authentications from this address; see Retry-After",
          },
        },
      },
      onRequest: async (req) => {
        const failures = { limiter: deps.authFailures, address: req.client.address };
        const writer = await requireInteropWriter(deps.store, req.headers.authorization, failures);
        checkEnvelope(req);
        const length = Number(req.headers["content-length"]);
        if (Number.isFinite(length) && length > deps.maxBodyBytes)
          throw tooLarge(deps.maxBodyBytes, "request body");
        writerOf.set(req, writer);
      },
    },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const writer = writerOf.get(req)!;
      const compressed = req.body;
      if (!Buffer.isBuffer(compressed)) {
        throw new HttpError(
          400,
          "bad_body",
          "request body is missing: send a snappy-compressed WriteRequest",
        );
      }
      // A decoder's refusal is an InputError with its status and reason (bad_body 400, too_large 413).
      const batch = decodeWriteRequest(decodeSnappyBlock(compressed, deps.maxBodyBytes));
      // Metadata-only requests, and batches of stale markers only: nothing to store, and not an error.
      if (batch.samples.length === 0) return reply.code(204).send();
      const { groups, seriesWithoutServer } = groupsFromPromSamples(batch.samples, (labels) =>
        serverFromLabel(serverLabel, labels[serverLabel]),
      );
      if (groups.length === 0 && seriesWithoutServer > 0) {
        throw new HttpError(
          400,
          "bad_request",
          `${seriesWithoutServer} samples of the families srvutil reads have no '${serverLabel.slice(0, 100)}' label ` +
            "to name their server (SRVUTIL_PROMETHEUS_SERVER_LABEL)",
        );
      }
      // Only families srvutil does not read: ignored, as the issue says of unknown families.
      if (groups.length > 0) await deps.sink.accept(groups, "remote_write", writer);
      return reply.code(204).send();
    },
  );
};

/**
 * remote_write 1.0 is application/x-protobuf with Content-Encoding: snappy;
 * a `proto` parameter other than prometheus.WriteRequest is 2.0, whose body
 * would decode as an empty 1.0 message, and so is refused (415) instead.
 */
function checkEnvelope(req: FastifyRequest): void {
  const contentType = req.headers["content-type"] ?? "";
  const [mediaType = "", ...parameters] = contentType.split(";").map((p) => p.trim());
  if (mediaType.toLowerCase() !== "application/x-protobuf") {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `Content-Type '${contentType.slice(0, 80)}' is not remote_write 1.0: send application/x-protobuf`,
    );
  }
  for (const parameter of parameters) {
    const [name = "", value = ""] = parameter.split("=", 2).map((p) => p.trim());
    if (name.toLowerCase() !== "proto") continue;
    const message = value.replace(/^"|"$/g, "");
    if (message !== WRITE_REQUEST_V1) {
      throw new HttpError(
        415,
        "unsupported_media_type",
        `remote_write message '${message.slice(0, 80)}' is not supported: only 1.0 (prometheus.WriteRequest); ` +
          "set protobuf_message: prometheus.WriteRequest in prometheus.yml's remote_write",
      );
    }
  }
  const header = req.headers["content-encoding"];
  const encoding = (Array.isArray(header) ? header.join(",") : (header ?? "")).trim().toLowerCase();
  if (encoding !== "snappy") {
    throw new HttpError(
      415,
      "unsupported_encoding",
      `Content-Encoding '${encoding.slice(0, 40)}' is not supported: remote_write bodies are snappy (block format)`,
    );
  }
}
