/**
 * Slow clients (issue 24, point 4: headers, then one byte every 5 s, held a
 * connection for as long as the client liked, on the upload route and on
 * /login). A real central (startCentral, SQLite) with short timeouts from its
 * configuration, and raw TCP sockets that send exactly what a slow client sends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { httpRequest } from "../helpers/http.js";
import { csvFor } from "./ingest/fixtures.js";

interface SlowClientResult {
  /** From the first byte written to the server closing the connection. */
  ms: number;
  /** What the server sent before closing. */
  answer: string;
}

/**
 * Connects, writes `head`, then `drip` every `everyMs` until the server
 * closes the connection (or 20 s pass, which fails the test that expects less).
 */
function slowClient(
  port: number,
  head: string,
  drip: string | null,
  everyMs = 500,
): Promise<SlowClientResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    let answer = "";
    const socket = net.connect(port, "127.0.0.1", () => {
      if (head !== "") socket.write(head);
    });
    const timer =
      drip === null
        ? null
        : setInterval(() => {
            if (!socket.destroyed) socket.write(drip);
          }, everyMs);
    const giveUp = setTimeout(() => socket.destroy(), 20_000);
    socket.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (timer !== null) clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ ms: Date.now() - started, answer });
    });
  });
}

describe("HTTP timeouts against slow clients (headers 1 s, request 3 s, body idle 1 s)", () => {
  let dir: string;
  let c: RunningCentral;
  let port: number;
  let token: string;
  const uploads = async () => (await c.store.listServers()).length;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-timeouts-"));
    c = await startCentral(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: dir,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
        SRVUTIL_HEADERS_TIMEOUT_SECONDS: "1",
        SRVUTIL_REQUEST_TIMEOUT_SECONDS: "3",
        SRVUTIL_BODY_IDLE_TIMEOUT_SECONDS: "1",
      }),
    );
    port = Number(new URL(c.url).port);
    token = await createAgentToken(c.store, "web-01");
  });
  afterAll(async () => {
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const uploadHead = () =>
    `POST /api/v1/metrics HTTP/1.1\r\nHost: central\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n`;
  const loginHead =
    "POST /login HTTP/1.1\r\nHost: central\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n";

  it("cuts a body trickled one byte every 0.5 s at the request timeout, on the upload route and on /login", async () => {
    const [upload, login] = await Promise.all([
      slowClient(port, uploadHead(), "1"),
      slowClient(port, loginHead, "a"),
    ]);
    for (const [label, r] of [
      ["upload", upload],
      ["login", login],
    ] as const) {
      console.log(`${label}: trickled body closed after ${r.ms} ms`);
      expect(r.answer, label).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(r.answer, label).toContain('"reason":"request_timeout","code":"SRVUTIL_E_REQUEST_TIMEOUT"}');
      // Node checks for expired requests every quarter of the shortest timeout.
      expect(r.ms, label).toBeGreaterThanOrEqual(2_900);
      expect(r.ms, label).toBeLessThan(3_000 + 250 + 2_000);
    }
    expect(await uploads()).toBe(0);
  });

  it("cuts a body that stops arriving after the body-idle timeout", async () => {
    const [upload, login] = await Promise.all([
      slowClient(port, `${uploadHead()}server,timestamp`, null),
      slowClient(port, `${loginHead}_csrf=`, null),
    ]);
    for (const [label, r] of [
      ["upload", upload],
      ["login", login],
    ] as const) {
      console.log(`${label}: stalled body closed after ${r.ms} ms`);
      expect(r.answer, label).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*request body idle for 1 s/);
      expect(r.answer, label).toContain('"reason":"request_timeout","code":"SRVUTIL_E_REQUEST_TIMEOUT"}');
      expect(r.ms, label).toBeGreaterThanOrEqual(950);
      expect(r.ms, label).toBeLessThan(1_000 * 1.25 + 2_000);
    }
    expect(await uploads()).toBe(0);
  });

  it("cuts headers sent one line every 0.3 s, and a connection that sends nothing, at the headers timeout", async () => {
    const [slowHeaders, silent] = await Promise.all([
      slowClient(port, "POST /login HTTP/1.1\r\nHost: central\r\n", "X-Padding: x\r\n", 300),
      slowClient(port, "", null),
    ]);
    for (const [label, r] of [
      ["slow headers", slowHeaders],
      ["silent", silent],
    ] as const) {
      console.log(`${label}: closed after ${r.ms} ms`);
      expect(r.answer, label).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(r.answer, label).toContain('"reason":"request_timeout","code":"SRVUTIL_E_REQUEST_TIMEOUT"}');
      expect(r.ms, label).toBeGreaterThanOrEqual(950);
      expect(r.ms, label).toBeLessThan(1_000 + 250 + 2_000);
    }
  });

  it("answers a request Node's parser refuses with the API's error body and code (400, 431)", async () => {
    const [garbage, bigHeaders] = await Promise.all([
      slowClient(port, "NOT HTTP AT ALL\r\n\r\n", null),
      slowClient(
        port,
        `GET /healthz HTTP/1.1\r\nHost: central\r\nX-Big: ${"x".repeat(40_000)}\r\n\r\n`,
        null,
      ),
    ]);
    expect(garbage.answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(garbage.answer).toContain('"reason":"bad_request","code":"SRVUTIL_E_BAD_REQUEST"}');
    expect(bigHeaders.answer).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(bigHeaders.answer).toContain('"reason":"headers_too_large","code":"SRVUTIL_E_HEADERS_TOO_LARGE"}');
  });

  it("still takes a whole upload sent at once, and an upload whose body keeps coming within the timeouts", async () => {
    const csv = csvFor("web-01", new Date(Date.now() - 3_600_000).toISOString(), 4);
    const whole = await httpRequest(`${c.url}/api/v1/metrics`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
      body: csv,
    });
    expect(whole.status).toBe(201);
    // The same file in four parts 0.4 s apart: 1.2 s in all, longer than the body-idle timeout.
    const bytes = Buffer.from(csvFor("web-01", new Date(Date.now() - 7_200_000).toISOString(), 4));
    const quarter = Math.ceil(bytes.length / 4);
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      const socket = net.connect(port, "127.0.0.1", async () => {
        socket.write(
          `POST /api/v1/metrics HTTP/1.1\r\nHost: central\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/csv\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`,
        );
        for (let i = 0; i < 4; i++) {
          socket.write(bytes.subarray(i * quarter, (i + 1) * quarter));
          await new Promise((r) => setTimeout(r, 400));
        }
      });
      socket.on("data", (d: Buffer) => {
        text += d.toString();
      });
      socket.on("close", () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
  });
});

describe("HTTP timeouts by default", () => {
  it("sets Node's header, request, keep-alive and idle timeouts on the listening server", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-timeouts-default-"));
    const c = await startCentral(
      loadCentralConfig({ SRVUTIL_DATA_DIR: dir, SRVUTIL_LISTEN: "127.0.0.1:0", SRVUTIL_REPORT_CRON: "off" }),
    );
    try {
      const server = c.app.server;
      expect({
        headers: server.headersTimeout,
        request: server.requestTimeout,
        keepAlive: server.keepAliveTimeout,
        idle: server.timeout,
      }).toEqual({ headers: 20_000, request: 120_000, keepAlive: 72_000, idle: 300_000 });
    } finally {
      await c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
