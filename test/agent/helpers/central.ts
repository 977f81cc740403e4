import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { CsvValidationError, type MetricRow, parseMetricsCsv } from "../../../src/protocol/index.js";

/** What the test central does with the next request. */
export type CentralBehavior =
  | { kind: "accept" }
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  /** Read part of the body, then destroy the connection. */
  | { kind: "reset" }
  /** Never answer. */
  | { kind: "hang" };

export interface ReceivedUpload {
  headers: IncomingMessage["headers"];
  /** Decompressed body. */
  csv: string;
  status: number;
}

/**
 * A real HTTP central on loopback for agent tests: checks the bearer token
 * and gzip encoding, validates bodies with the real CSV v1 parser (400
 * {error,line,column,reason,code} like the real central; every error body
 * carries a SRVUTIL_E_* code, by which the agent knows the central's own answers), and stores rows keyed by
 * (server, timestamp, mount) so tests can check "exactly once".
 */
export class TestCentral {
  readonly uploads: ReceivedUpload[] = [];
  readonly rows = new Map<string, MetricRow>();
  /** How many times each key arrived in an accepted upload. */
  readonly deliveries = new Map<string, number>();
  requests = 0;
  /** Behaviours for the next requests, consumed in order; afterwards `fallback`. */
  script: CentralBehavior[] = [];
  fallback: CentralBehavior = { kind: "accept" };
  private server: Server | null = null;
  private readonly hanging = new Set<ServerResponse>();
  port = 0;

  constructor(readonly token: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const behavior = this.script.shift() ?? this.fallback;
    if (behavior.kind === "reset") {
      req.once("data", () => req.socket.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (behavior.kind === "hang") {
      this.hanging.add(res);
      return;
    }
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    if (behavior.kind === "status") {
      const code = behavior.status >= 500 ? "SRVUTIL_E_UNAVAILABLE" : "SRVUTIL_E_BAD_REQUEST";
      send(
        behavior.status,
        behavior.body ?? { error: `scripted ${behavior.status}`, code },
        behavior.headers,
      );
      return;
    }
    if (req.url !== "/api/v1/metrics" || req.method !== "POST")
      return send(404, { error: "not found", code: "SRVUTIL_E_NOT_FOUND" });
    if (req.headers.authorization !== `Bearer ${this.token}`)
      return send(401, { error: "bad token", code: "SRVUTIL_E_UNAUTHORIZED" });
    let csv: string;
    try {
      const raw = Buffer.concat(chunks);
      csv = (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
    } catch {
      return send(400, { error: "body is not gzip", line: null, column: null, code: "SRVUTIL_E_BAD_GZIP" });
    }
    try {
      const { rows } = parseMetricsCsv(csv, { now: Date.now() + 365 * 86_400_000 });
      let duplicates = 0;
      for (const r of rows) {
        const key = `${r.server}|${r.timestamp}|${r.diskMount}`;
        if (this.rows.has(key)) duplicates++;
        this.rows.set(key, r);
        this.deliveries.set(key, (this.deliveries.get(key) ?? 0) + 1);
      }
      this.uploads.push({ headers: req.headers, csv, status: 201 });
      send(201, { upload_id: `u${this.uploads.length}`, rows: rows.length, duplicates });
    } catch (err) {
      if (!(err instanceof CsvValidationError)) throw err;
      this.uploads.push({ headers: req.headers, csv, status: 400 });
      send(400, {
        error: err.message,
        line: err.line,
        column: err.column,
        reason: err.reason,
        code: `SRVUTIL_E_${err.reason.toUpperCase()}`,
      });
    }
  }

  /** Distinct sample timestamps received. */
  timestamps(): number[] {
    return [...new Set([...this.rows.values()].map((r) => r.timestamp))].sort((a, b) => a - b);
  }
}

/** A loopback port nothing listens on (central "down"). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
