/**
 * A real HTTP server on loopback that records what the channels send
 * (method, path, headers, body) and answers as a test tells it: a status
 * and body, a redirect, or nothing at all (a hung service).
 */
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect } from "vitest";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Reply =
  | { status: number; body?: string; headers?: Record<string, string> }
  | "hang"
  /** Headers and the first bytes of the body, then nothing. */
  | "hang-body";

export interface Receiver {
  /** http://127.0.0.1:<port> */
  origin: string;
  requests: RecordedRequest[];
  /** How the next requests are answered (default 200 "ok"). */
  reply: (req: RecordedRequest) => Reply;
  close(): Promise<void>;
}

export async function startReceiver(
  reply: (req: RecordedRequest) => Reply = () => ({ status: 200, body: "ok" }),
): Promise<Receiver> {
  const requests: RecordedRequest[] = [];
  const hung: http.ServerResponse[] = [];
  const state = { reply };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(recorded);
      const answer = state.reply(recorded);
      if (answer === "hang") {
        hung.push(res);
        return;
      }
      if (answer === "hang-body") {
        res.writeHead(200, { "content-type": "text/plain", "content-length": "1000" });
        res.write("partial");
        hung.push(res);
        return;
      }
      res.writeHead(answer.status, { "content-type": "text/plain", ...(answer.headers ?? {}) });
      res.end(answer.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    get reply() {
      return state.reply;
    },
    set reply(fn) {
      state.reply = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Receivers for one test file, closed after each test: `receiver()` starts
 * one, `only()` returns the one request it got (failing when it got another
 * number).
 */
export function useReceivers() {
  const open: Receiver[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  return {
    async receiver(reply?: (req: RecordedRequest) => Reply): Promise<Receiver> {
      const r = await startReceiver(reply);
      open.push(r);
      return r;
    },
    only(r: Receiver): RecordedRequest {
      expect(r.requests).toHaveLength(1);
      return r.requests[0]!;
    },
    /** Closes a receiver now (a refused connection afterwards). */
    async closeNow(r: Receiver): Promise<void> {
      open.splice(open.indexOf(r), 1);
      await r.close();
    },
  };
}
