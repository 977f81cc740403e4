import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentRequeueCommand, agentRunCommand } from "../../src/agent/commands.js";
import { loadAgentConfig } from "../../src/agent/config.js";
import { describeConnectionError } from "../../src/agent/connection-errors.js";
import { verifyAgainstCentral } from "../../src/agent/install/verify.js";
import { spoolFileName } from "../../src/agent/spool.js";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { EXIT_CODE } from "../../src/errors.js";
import { CANONICAL_COLUMNS } from "../../src/protocol/index.js";
import { makeAgentDir } from "./helpers/agent-env.js";
import { closedPort, TestCentral } from "./helpers/central.js";

/**
 * `run --once` says by its exit code what went wrong (docs/agent.md, Exit
 * codes), and a wrong address never costs a sample: only the central's own
 * refusal of a file's content moves it to rejected/. Every case runs the
 * command over real HTTP on loopback, against the test central or a server
 * that answers as a proxy or another service would.
 */
const TOKEN = "tok_exit_3b9d21";

let central: TestCentral;
let agent: { dir: string; cleanup: () => void };
const others: Server[] = [];

beforeEach(async () => {
  central = new TestCentral(TOKEN);
  await central.start();
  agent = makeAgentDir({
    upload: { timeout_seconds: 2, max_attempts: 2, backoff_initial_ms: 10, backoff_max_ms: 20 },
  });
});
afterEach(async () => {
  await central.stop();
  for (const s of others.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  agent.cleanup();
});

async function otherServer(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  others.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function runOnce(centralUrl: string, token = TOKEN): Promise<{ code: number; line: string }> {
  const lines: string[] = [];
  const code = await agentRunCommand({
    once: true,
    env: {
      SRVUTIL_AGENT_DIR: agent.dir,
      SRVUTIL_CENTRAL_URL: centralUrl,
      SRVUTIL_AGENT_TOKEN: token,
      SRVUTIL_SERVER_NAME: "test-srv",
    },
    print: (l) => lines.push(l),
  });
  return { code, line: lines.join("\n") };
}

const pending = () => readdirSync(join(agent.dir, "metrics")).filter((n) => n.endsWith(".csv"));
/** Data rows in the spool now, and rows the central stored (duplicates included: two runs may share a second). */
const pendingRows = () =>
  pending().reduce(
    (n, f) =>
      n +
      readFileSync(join(agent.dir, "metrics", f), "utf8")
        .trimEnd()
        .split("\n").length -
      1,
    0,
  );
const sentRows = () =>
  central.uploads
    .filter((u) => u.status === 201)
    .reduce((n, u) => n + u.csv.trimEnd().split("\n").length - 1, 0);
const rejected = () => readdirSync(join(agent.dir, "metrics", "rejected")).filter((n) => n.endsWith(".csv"));

describe("run --once exit codes", () => {
  it("0 when the central took everything", async () => {
    const r = await runOnce(central.url);
    expect(r.code).toBe(0);
    expect(pending()).toEqual([]);
    expect(central.rows.size).toBeGreaterThan(0);
  });

  it("78 when the central refuses the token; the sample stays spooled", async () => {
    const r = await runOnce(central.url, "tok_wrong");
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.line).toMatch(/HTTP 401: bad token; check the token and server name/);
    expect(pending()).toHaveLength(1);
    expect(rejected()).toEqual([]);
  });

  it("78 for a wrong path (the central's own 404): nothing moves to rejected/, and the right URL then sends it", async () => {
    const wrong = await runOnce(`${central.url}/srvutil`);
    expect(wrong.code).toBe(EXIT_CODE.bad_config);
    expect(wrong.line).toMatch(
      /HTTP 404.*nothing takes metrics at .*\/srvutil\/api\/v1\/metrics; check SRVUTIL_CENTRAL_URL/,
    );
    expect(pending()).toHaveLength(1);
    expect(rejected()).toEqual([]);
    const kept = pendingRows();
    const right = await runOnce(central.url);
    expect(right.code).toBe(0);
    expect(pending()).toEqual([]);
    // The kept sample and the new one.
    expect(sentRows()).toBe(kept * 2);
  });

  it("78 for a proxy's HTML 404 and 405, and for another service's HTML 400: files stay queued", async () => {
    for (const status of [404, 405, 400]) {
      const url = await otherServer((req, res) => {
        req.resume();
        res.writeHead(status, { "content-type": "text/html" });
        res.end(`<html><body><h1>${status}</h1>nginx</body></html>`);
      });
      const r = await runOnce(url);
      expect(r.code, `HTTP ${status}`).toBe(EXIT_CODE.bad_config);
      expect(r.line).toContain(`HTTP ${status}`);
      expect(rejected()).toEqual([]);
    }
    expect(pending()).toHaveLength(3);
    expect(central.requests).toBe(0);
  });

  it("78 for a 200 that is not the central's (a catch-all page): the file is not deleted", async () => {
    const url = await otherServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><title>Welcome</title>");
    });
    const r = await runOnce(url);
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.line).toMatch(/not the srvutil central's answer/);
    expect(pending()).toHaveLength(1);
  });

  it("69 when nothing listens, and when the central answers 503: the sample waits", async () => {
    const down = await runOnce(`http://127.0.0.1:${await closedPort()}`);
    expect(down.code).toBe(EXIT_CODE.unavailable);
    expect(down.line).toMatch(/nothing accepts connections at http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/);
    central.fallback = { kind: "status", status: 503 };
    const busy = await runOnce(central.url);
    expect(busy.code).toBe(EXIT_CODE.unavailable);
    expect(pending()).toHaveLength(2);
    expect(rejected()).toEqual([]);
  });

  it("78 with one clear line for https:// on a plain-HTTP central", async () => {
    const r = await runOnce(central.url.replace("http://", "https://"));
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.line).toMatch(
      /the central does not speak HTTPS at https:\/\/127\.0\.0\.1:\d+ \(use http:\/\/ in SRVUTIL_CENTRAL_URL, or enable TLS on the central\)/,
    );
    expect(pending()).toHaveLength(1);
  });

  it("1 when the central refuses a file's content; requeue sends it again once the central takes it", async () => {
    // A sample the central refuses as too old (422, its own answer), then takes.
    central.script = [
      {
        kind: "status",
        status: 422,
        body: {
          error: "sample older than the ingest horizon",
          reason: "sample_too_old",
          code: "SRVUTIL_E_SAMPLE_TOO_OLD",
        },
      },
    ];
    const refused = await runOnce(central.url);
    expect(refused.code).toBe(1);
    expect(refused.line).toMatch(/0 pending, 1 rejected/);
    const [name] = rejected();
    expect(name).toBeDefined();
    expect(existsSync(join(agent.dir, "metrics", "rejected", `${name}.error.txt`))).toBe(true);

    const lines: string[] = [];
    const code = await agentRequeueCommand({
      env: { SRVUTIL_AGENT_DIR: agent.dir },
      print: (l) => lines.push(l),
    });
    expect(code).toBe(0);
    expect(lines.join("\n")).toMatch(/^requeued 1 file\(s\) from /);
    expect(rejected()).toEqual([]);
    expect(readdirSync(join(agent.dir, "metrics", "rejected"))).toEqual([]);
    expect(pending()).toEqual([name]);
    const requeuedCsv = readFileSync(join(agent.dir, "metrics", name!), "utf8");

    const again = await runOnce(central.url);
    expect(again.code).toBe(0);
    expect(pending()).toEqual([]);
    expect(central.uploads.filter((u) => u.status === 201)).toHaveLength(1);
    // Merged with the new sample (in either order: two runs may fall in the same second).
    const sent = central.uploads[0]!.csv.split("\n");
    for (const row of requeuedCsv.trimEnd().split("\n").slice(1)) expect(sent).toContain(row);
  });

  it("a file the central refuses for its content goes to rejected/ (exit 1); the rest is sent", async () => {
    const bad = spoolFileName(Date.now() - 60_000);
    mkdirSync(join(agent.dir, "metrics"), { recursive: true });
    writeFileSync(
      join(agent.dir, "metrics", bad),
      `${CANONICAL_COLUMNS.join(",")}\n2026-11-16T00:10:00Z,test-srv,250,,,1,1,0,/,1,1,0\n`,
    );
    const r = await runOnce(central.url);
    expect(r.code).toBe(1);
    expect(rejected()).toEqual([bad]);
    expect(readFileSync(join(agent.dir, "metrics", "rejected", `${bad}.error.txt`), "utf8")).toMatch(
      /HTTP 400/,
    );
    expect(pending()).toEqual([]);
  });

  it("requeue with nothing rejected says so and exits 0", async () => {
    const lines: string[] = [];
    expect(
      await agentRequeueCommand({ env: { SRVUTIL_AGENT_DIR: agent.dir }, print: (l) => lines.push(l) }),
    ).toBe(0);
    expect(lines.join("\n")).toMatch(/^nothing to requeue/);
  });
});

describe("connection errors in one line", () => {
  const url = new URL("https://central.example.invalid:8443/srvutil/api/v1/metrics");
  const err = (code: string, message: string) => Object.assign(new Error(message), { code });

  it("a host name that does not resolve is a setting to fix", () => {
    const p = describeConnectionError(err("ENOTFOUND", "getaddrinfo ENOTFOUND central.example.invalid"), url);
    expect(p).toEqual({
      configuration: true,
      message: expect.stringMatching(
        /^the host name 'central\.example\.invalid' does not resolve: check SRVUTIL_CENTRAL_URL/,
      ),
    });
  });

  it("certificate errors name the fix", () => {
    expect(
      describeConnectionError(err("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate"), url).message,
    ).toMatch(/not signed by a CA this agent trusts: set SRVUTIL_AGENT_CA_FILE/);
    expect(
      describeConnectionError(err("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match"), url).message,
    ).toMatch(/not made out for 'central\.example\.invalid'/);
    expect(describeConnectionError(err("CERT_HAS_EXPIRED", "certificate has expired"), url).message).toMatch(
      /expired/,
    );
  });

  it("an unknown error keeps its code and is retried", () => {
    expect(describeConnectionError(err("ECONNRESET", "socket hang up"), url)).toEqual({
      configuration: false,
      message: "ECONNRESET: socket hang up",
    });
  });
});

describe("install's check against the central", () => {
  it("says the central does not speak HTTPS, in one line", async () => {
    const config = loadAgentConfig({
      SRVUTIL_AGENT_DIR: agent.dir,
      SRVUTIL_CENTRAL_URL: central.url.replace("http://", "https://"),
      SRVUTIL_AGENT_TOKEN: TOKEN,
      SRVUTIL_SERVER_NAME: "test-srv",
    });
    await expect(verifyAgainstCentral(config, true, 5000)).rejects.toThrow(
      /^the central does not speak HTTPS at https:\/\/127\.0\.0\.1:\d+ \(use http:\/\//,
    );
  });
});

describe("against the real central", () => {
  it("its 400 moves only the bad file to rejected/ (exit 1), its 404 keeps the spool (exit 78)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "srvutil-exit-central-"));
    const real = await startCentral(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: dataDir,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
      }),
    );
    try {
      const token = await createAgentToken(real.store, "test-srv");
      const wrong = await runOnce(`${real.url}/srvutil`, token);
      expect(wrong.code).toBe(EXIT_CODE.bad_config);
      expect(wrong.line).toMatch(/HTTP 404: .*check SRVUTIL_CENTRAL_URL/);
      expect(rejected()).toEqual([]);
      expect(pending()).toHaveLength(1);

      const bad = spoolFileName(Date.now() - 60_000);
      writeFileSync(
        join(agent.dir, "metrics", bad),
        `${CANONICAL_COLUMNS.join(",")}\n${new Date(Date.now() - 60_000).toISOString().slice(0, 19)}Z,test-srv,250,,,1,1,0,/,1,1,0\n`,
      );
      const r = await runOnce(real.url, token);
      expect(r.code).toBe(1);
      expect(rejected()).toEqual([bad]);
      expect(readFileSync(join(agent.dir, "metrics", "rejected", `${bad}.error.txt`), "utf8")).toMatch(
        /^HTTP 400: line 2, column cpu_percent/,
      );
      expect(pending()).toEqual([]);
    } finally {
      await real.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
