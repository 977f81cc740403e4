/**
 * How a fuzz request reaches the central: fastify's inject (the whole app,
 * no socket), or raw bytes on a loopback TCP connection, so that what node's
 * HTTP parser lets through reaches the app exactly as a hostile client sent it.
 */
import net from "node:net";
import type { FastifyInstance } from "fastify";

export interface FuzzRequest {
  method: string;
  url: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Sends through fastify's inject (the whole app, no socket). A request the
 * app never answers fails after `timeoutMs` as "no answer" (instead of
 * hanging the test until its own timeout, with no request named).
 */
export async function viaInject(app: FastifyInstance, req: FuzzRequest, timeoutMs = 10_000): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const res = await Promise.race([
      app.inject({
        method: req.method as "GET",
        url: req.url,
        headers: req.headers ?? {},
        ...(req.body === undefined ? {} : { payload: req.body }),
      }),
      timeout,
    ]);
    return { status: res.statusCode, headers: res.headers as Answer["headers"], body: res.rawPayload };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends raw bytes over a loopback TCP connection and reads the answer until
 * the server closes it (the request asks for `Connection: close`). What the
 * HTTP parser accepts reaches the app exactly as a hostile client sent it:
 * header bytes that node's own client refuses to send, obs-text, huge lines.
 */
/** An answer is read up to this size; a runaway one fails the size check all the same. */
const MAX_ANSWER_READ_BYTES = 4 * 1024 * 1024 + 65_536;

export function viaSocket(port: number, raw: Buffer, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let total = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (d: Buffer) => {
      total += d.length;
      // Bounded: a runaway answer is cut here and fails the size check.
      if (total <= MAX_ANSWER_READ_BYTES) chunks.push(d);
    });
    socket.on("error", (err) => {
      // A reset after the server answered and closed (it stopped reading our
      // body) still leaves a complete answer to check.
      if (chunks.length > 0) return;
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parseRawAnswer(Buffer.concat(chunks), total));
      } catch (err) {
        reject(err);
      }
    });
    // Not end(): node's server aborts a request whose client half-closes before the answer.
    socket.write(raw);
  });
}

function parseRawAnswer(all: Buffer, total: number): Answer {
  // Interim answers (100 Continue to an Expect header) come before the real one.
  let bytes = all;
  while (/^HTTP\/1\.[01] 1\d\d /.test(bytes.subarray(0, 16).toString("latin1"))) {
    const interimEnd = bytes.indexOf("\r\n\r\n");
    if (interimEnd < 0) break;
    bytes = bytes.subarray(interimEnd + 4);
  }
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`connection closed without an HTTP answer (${bytes.length} bytes)`);
  const head = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
  if (m === null) throw new Error(`not an HTTP status line: ${JSON.stringify(head[0]?.slice(0, 100))}`);
  const headers: Record<string, string | string[] | undefined> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    const prev = headers[name];
    headers[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  let body = bytes.subarray(end + 4);
  if (/chunked/i.test(String(headers["transfer-encoding"] ?? ""))) body = dechunk(body);
  // What was cut off by the reader still counts against the size bound.
  if (total > all.length) body = Buffer.concat([body, Buffer.alloc(total - all.length)]);
  return { status: Number(m[1]), headers, body };
}

function dechunk(bytes: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = bytes.indexOf("\r\n", pos);
    if (eol < 0) break;
    const size = Number.parseInt(bytes.subarray(pos, eol).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(bytes.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** A raw HTTP/1.1 request, headers as given (any bytes), with Connection: close. */
export function rawRequest(
  method: string,
  target: string | Buffer,
  headers: [string | Buffer, string | Buffer][],
  body: Buffer = Buffer.alloc(0),
): Buffer {
  const parts: Buffer[] = [Buffer.from(`${method} `), Buffer.from(target), Buffer.from(" HTTP/1.1\r\n")];
  parts.push(Buffer.from("Host: 127.0.0.1\r\nConnection: close\r\n"));
  for (const [name, value] of headers)
    parts.push(Buffer.from(name), Buffer.from(": "), Buffer.from(value), Buffer.from("\r\n"));
  parts.push(Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body);
  return Buffer.concat(parts);
}
