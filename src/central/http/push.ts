/**
 * What the push inputs of foreign agents share (./routes/otlp.ts,
 * ./routes/telegraf.ts, ./routes/collectd.ts): the route itself (pushRoute),
 * authentication before the body is read, the body read capped on the wire
 * and after decompression, the media type check, the answers every push
 * route gives, and the JSON summary of a stored batch.
 */
import type { Readable } from "node:stream";
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from "fastify";
import { gunzipCapped } from "../ingest/gunzip.js";
import type { InteropWriter } from "../ingest/interop/point-group.js";
import { contentEncoding, tooLarge } from "./body.js";
import { errorAnswer } from "./error-answer.js";
import { HttpError } from "./http-error.js";
import { type InteropRouteDeps, PUSH_SECURITY, requireInteropWriter } from "./interop-auth.js";
import { errorResponseSchema } from "./schemas.js";

/** One push input: what pushRoute() needs besides what every push route does alike. */
export interface PushInput<Decoded> {
  path: string;
  /** The media types taken; any other is 415. */
  mediaTypes: readonly string[];
  summary: string;
  description: string;
  /** What the body must be, named in the 400 of a request without one. */
  body: string;
  /** The 200 answer's schema, with its description. */
  ok: object;
  /** Descriptions of the route's own 400 and 415 answers. */
  badRequest: string;
  badMediaType: string;
  /** The decoder's error class: its errors are answered 400 (bad_body) with their message. */
  formatError: abstract new (
    ...args: never[]
  ) => Error;
  /** The body as the decoder reads it (a formatError when it cannot). */
  decode(body: Buffer, mediaType: string, deps: InteropRouteDeps): Decoded;
  /** Stores what was decoded and answers (returns the JSON body, or sends through `reply`). */
  answer(decoded: Decoded, push: Push, deps: InteropRouteDeps): Promise<unknown>;
  /** The route's error answers; default pushErrorHandler(mediaTypes). */
  errorHandler?: (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => unknown;
}

/** The request a push route is answering, once its body is read and decoded. */
export interface Push {
  writer: InteropWriter;
  mediaType: string;
  reply: FastifyReply;
}

/**
 * A push route's plugin: the body parser and error handler of its
 * (encapsulated) context, and POST `path` with its OpenAPI schema,
 * authentication before the body is read (pushAuthentication), the media
 * type and body checks, then the input's decode and answer.
 */
export function pushRoute<Decoded>(input: PushInput<Decoded>): FastifyPluginAsync<InteropRouteDeps> {
  return async (app, deps) => {
    const writers = new WeakMap<FastifyRequest, InteropWriter>();
    registerPushBodyParser(app, [...input.mediaTypes], deps.maxBodyBytes);
    app.setErrorHandler(input.errorHandler ?? pushErrorHandler(input.mediaTypes));

    app.post(
      input.path,
      {
        schema: {
          summary: input.summary,
          description: input.description,
          tags: ["ingest"],
          security: PUSH_SECURITY,
          response: {
            200: input.ok,
            400: { ...errorResponseSchema, description: input.badRequest },
            401: { ...errorResponseSchema, description: "Missing, unknown or revoked token" },
            403: { ...errorResponseSchema, description: "A server the token may not write; nothing stored" },
            413: {
              ...errorResponseSchema,
              description: "Body larger than SRVUTIL_MAX_BODY_BYTES (after decompression)",
            },
            415: { ...errorResponseSchema, description: input.badMediaType },
          },
        },
        onRequest: pushAuthentication(deps, writers),
      },
      async (req, reply) => {
        const mediaType = mediaTypeOf(req);
        if (!input.mediaTypes.includes(mediaType)) throw unsupportedMediaType(mediaType, input.mediaTypes);
        const body = requireBody(req.body, input.body);
        let decoded: Decoded;
        try {
          decoded = input.decode(body, mediaType, deps);
        } catch (err) {
          if (err instanceof input.formatError) throw new HttpError(400, "bad_body", err.message);
          throw err;
        }
        return input.answer(decoded, { writer: writers.get(req)!, mediaType, reply }, deps);
      },
    );
  };
}

/**
 * The onRequest hook of a push route: the writer behind the token (agent or
 * relay, Bearer or Basic) before a byte of the body is read, and the
 * declared length checked against the cap. The writer is kept for the handler.
 */
export function pushAuthentication(deps: InteropRouteDeps, writers: WeakMap<FastifyRequest, InteropWriter>) {
  return async (req: FastifyRequest): Promise<void> => {
    const failures =
      deps.authFailures === undefined
        ? undefined
        : { limiter: deps.authFailures, address: req.client.address };
    const writer = await requireInteropWriter(deps.store, req.headers.authorization, failures);
    const length = Number(req.headers["content-length"]);
    if (Number.isFinite(length) && length > deps.maxBodyBytes)
      throw tooLarge(deps.maxBodyBytes, "request body");
    writers.set(req, writer);
  };
}

/**
 * Registers, in the caller's (encapsulated) context, a parser for each media
 * type that hands the handler the raw body as a Buffer: capped, gunzipped
 * when Content-Encoding says gzip. The decoders parse it themselves.
 */
export function registerPushBodyParser(
  app: FastifyInstance,
  mediaTypes: string[],
  maxBodyBytes: number,
): void {
  app.addContentTypeParser(mediaTypes, async (req: FastifyRequest, payload: Readable) =>
    readPushBody(payload, contentEncoding(req.headers["content-encoding"]), maxBodyBytes),
  );
}

/** The request's media type, lower case, without parameters ("" when absent). */
export function mediaTypeOf(req: FastifyRequest): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/** The body the parser gave, or 400 when there is none. */
export function requireBody(body: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(body)) throw new HttpError(400, "bad_body", `request body is missing: send ${what}`);
  return body;
}

/**
 * Reads a push body into one Buffer: at most `maxBytes` on the wire, and at
 * most `maxBytes` after decompression (a gzip bomb stops at the cap). Unlike
 * readCappedBody it does not watch a CSV header line: these bodies are JSON
 * or protobuf, often one long line.
 */
export async function readPushBody(
  stream: Readable,
  encoding: "identity" | "gzip",
  maxBytes: number,
): Promise<Buffer> {
  const raw = await collect(stream, maxBytes);
  return encoding === "gzip" ? gunzipCapped(raw, maxBytes, { watchCsvHeader: false }) : raw;
}

function collect(stream: Readable, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      if (err === null) resolve(Buffer.concat(chunks, total));
      else {
        // Keep draining so the client reads our answer instead of a reset.
        stream.resume();
        reject(err);
      }
    };
    stream.on("data", (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      if (total > maxBytes) finish(tooLarge(maxBytes, "request body"));
      else chunks.push(chunk);
    });
    stream.on("end", () => finish(null));
    stream.on("error", (err) =>
      finish(new HttpError(400, "bad_body", `could not read the body: ${err.message}`)),
    );
    stream.on("close", () => {
      if (!stream.readableEnded)
        finish(new HttpError(400, "bad_body", "could not read the body: it ended early"));
    });
  });
}

/** The 415 of a push route, naming the media types it takes. */
export function unsupportedMediaType(mediaType: string, accepted: readonly string[]): HttpError {
  return new HttpError(
    415,
    "unsupported_media_type",
    `Content-Type '${mediaType.slice(0, 60)}' is not accepted here; send ${accepted.join(" or ")}`,
  );
}

/**
 * The error handler of a JSON push route: the API's error body, with a 415
 * that names this route's media types (not the CSV upload's).
 */
export function pushErrorHandler(accepted: readonly string[]) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body, headers } = errorAnswer(asPushError(err, req, accepted));
    if (status >= 500) req.log.error({ err, client: req.client?.address }, "request failed");
    return reply.code(status).headers(headers).send(body);
  };
}

/** fastify's own refusal of a media type no parser takes, as the push route's 415. */
export function asPushError(
  err: FastifyError | Error,
  req: FastifyRequest,
  accepted: readonly string[],
): Error {
  const code = (err as FastifyError).code;
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || code === "FST_ERR_CTP_EMPTY_TYPE") {
    return unsupportedMediaType(mediaTypeOf(req), accepted);
  }
  return err;
}

/** The 200 answer of the Telegraf and collectd routes: what the batch came to (InteropBatchResult). */
export const pushResultSchema = {
  type: "object",
  required: ["samples", "rows", "inserted", "servers", "primed", "stale", "incomplete", "incompleteCount"],
  additionalProperties: false,
  properties: {
    samples: {
      type: "integer",
      description: "Samples (server, instant) the batch gave, stored now or before",
    },
    rows: { type: "integer", description: "CSV v1 rows of those samples (one per mount)" },
    inserted: { type: "integer", description: "Rows newly stored; the rest were there already (a replay)" },
    servers: { type: "array", items: { type: "string" }, description: "The servers written" },
    primed: {
      type: "integer",
      description: "Instants whose CPU counters only primed the baseline (a server's first)",
    },
    stale: {
      type: "integer",
      description: "Instants at or before the server's stored CPU baseline: a replay, counted before",
    },
    incompleteCount: {
      type: "integer",
      description: "Every instant that lacked a family, past the first 100 too",
    },
    incomplete: {
      type: "array",
      description: "Instants that gave no sample because a family was missing (the first 100)",
      items: {
        type: "object",
        required: ["server", "timestamp", "missing"],
        additionalProperties: false,
        properties: {
          server: { type: "string" },
          timestamp: { type: "integer", description: "Epoch ms" },
          missing: { type: "array", items: { type: "string" } },
        },
      },
    },
  },
} as const;
