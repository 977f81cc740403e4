import { type IncomingHttpHeaders, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { type ErrorReason, errorCode } from "../../errors.js";

/**
 * How long a client may take to send its request. Without these a client
 * that sends its headers and then one byte every few seconds holds a
 * connection (and whatever its handler holds) for as long as it likes.
 *
 * - headers: the whole header block must arrive within `headersMs` (Node's
 *   headersTimeout); otherwise 408 and the connection is closed.
 *
 * Every 408 (and the 400 and 431 that Node's parser gives a malformed
 * request) is the API's JSON error with its code, SRVUTIL_E_REQUEST_TIMEOUT
 * (socketErrorAnswer).
 * - request: headers and body must arrive within `requestMs` (Node's
 *   requestTimeout); otherwise 408. This is what ends a body trickled one
 *   byte at a time.
 * - body idle: a body from which no byte arrives for `bodyIdleMs` is
 *   answered 408 and the connection closed (registerBodyIdleTimeout): a
 *   client that stalls is dropped long before the request timeout.
 *
 * Besides these, a connection silent in both directions for
 * CONNECTION_IDLE_TIMEOUT_MS is closed (slow readers, dead peers), and an
 * idle keep-alive connection after KEEP_ALIVE_TIMEOUT_MS.
 */
export interface HttpTimeouts {
  /** SRVUTIL_HEADERS_TIMEOUT_SECONDS. */
  headersMs: number;
  /** SRVUTIL_REQUEST_TIMEOUT_SECONDS; at least headersMs. */
  requestMs: number;
  /** SRVUTIL_BODY_IDLE_TIMEOUT_SECONDS. */
  bodyIdleMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({
  headersMs: 20_000,
  // A 16 MiB upload (the default SRVUTIL_MAX_BODY_BYTES) needs about 1.1 Mbit/s to arrive in it.
  requestMs: 120_000,
  bodyIdleMs: 30_000,
});

/** Longer than any answer takes to compute, so only a connection nobody uses is closed. */
export const CONNECTION_IDLE_TIMEOUT_MS = 300_000;
/** Longer than the 60 s idle timeout of common load balancers, so they close first (fastify's default). */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * The options of Node's HTTP server (fastify's `http`, or merged into its
 * `https`) for these timeouts. Node looks for expired requests every
 * `connectionsCheckingInterval`; it is set to a quarter of the shortest
 * timeout (at most 5 s), so a request is cut within 25 % of its timeout.
 */
export function nodeServerTimeoutOptions(t: HttpTimeouts): {
  requestTimeout: number;
  headersTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    requestTimeout: t.requestMs,
    headersTimeout: t.headersMs,
    connectionsCheckingInterval: Math.max(
      50,
      Math.min(5_000, Math.floor(Math.min(t.headersMs, t.requestMs) / 4)),
    ),
  };
}

const hasBody = (headers: IncomingHttpHeaders): boolean =>
  headers["transfer-encoding"] !== undefined ||
  (headers["content-length"] !== undefined && headers["content-length"] !== "0");

/**
 * Answers 408 and closes the connection when a request's body stops
 * arriving for `idleMs`. Progress is read from the socket's byte count
 * (Node's parser takes the bytes before any JavaScript listener could), a
 * quarter of `idleMs` apart, so a stall is cut between idleMs and 1.25 ×
 * idleMs after its last byte. The watch ends once the body is complete.
 */
export function registerBodyIdleTimeout(app: FastifyInstance, idleMs: number): void {
  const pollMs = Math.max(10, Math.floor(idleMs / 4));
  app.addHook("onRequest", async (req, reply) => {
    const raw = req.raw;
    if (raw.complete || !hasBody(req.headers)) return;
    const socket = raw.socket;
    let lastBytes = socket.bytesRead;
    let lastProgressAt = Date.now();
    const stop = () => {
      clearInterval(timer);
      reply.raw.off("close", stop);
    };
    const timer = setInterval(() => {
      if (raw.complete || socket.destroyed) return stop();
      const bytes = socket.bytesRead;
      const now = Date.now();
      if (bytes !== lastBytes) {
        lastBytes = bytes;
        lastProgressAt = now;
        return;
      }
      if (now - lastProgressAt < idleMs) return;
      stop();
      if (reply.raw.headersSent) {
        socket.destroy();
        return;
      }
      socket.end(
        socketErrorAnswer(
          408,
          "request_timeout",
          `request body idle for ${Math.round(idleMs / 1000)} s; closing`,
        ),
        () => socket.destroy(),
      );
    }, pollMs);
    timer.unref();
    reply.raw.once("close", stop);
  });
}

/**
 * A whole HTTP/1.1 error answer written to the socket directly, where no
 * route answers (a timeout, a request Node's parser refuses): the API's JSON
 * error body, so these carry a code as every other 4xx does.
 */
export function socketErrorAnswer(status: number, reason: ErrorReason, message: string): string {
  const body = JSON.stringify({ error: message, line: null, column: null, reason, code: errorCode(reason) });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * fastify's clientErrorHandler: Node's request and headers timeouts
 * (ERR_HTTP_REQUEST_TIMEOUT) and the requests its parser refuses, answered
 * as fastify's own handler does (nothing for a reset or destroyed socket,
 * then the socket closed) but with the API's error body and code.
 */
export function clientErrorAnswer(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, reason, message]: [number, ErrorReason, string] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "request_timeout", "the request did not arrive in time; closing"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "headers_too_large", "the request headers are larger than the central takes"]
        : [400, "bad_request", "malformed HTTP request"];
  if (socket.writable) socket.write(socketErrorAnswer(status, reason, message));
  socket.destroy(err);
}
