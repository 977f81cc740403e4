import { spawn } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../src/errors.js";
import { freePort } from "../helpers/net.js";

/**
 * `srvutil agent …` through the real commander CLI (from source, via tsx). The
 * upload path itself is covered by the bundle tests and the lead's e2e test.
 */
const ROOT = resolve(import.meta.dirname, "../..");

function srvutil(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", fail);
    child.once("close", (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "srvutil-agent-cli-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("srvutil agent", () => {
  it("has --help on every subcommand", async () => {
    const r = await srvutil(["agent", "install", "--help"], {});
    expect(r.code).toBe(0);
    expect(r.out).toContain("--mode <mode>");
    expect(r.out).toContain("--dry-run");
  });

  it("prints a missing setting as one line and exits 78 (bad configuration)", async () => {
    const r = await srvutil(["agent", "run", "--once"], {
      SRVUTIL_AGENT_DIR: dir,
      SRVUTIL_AGENT_TOKEN: "tok-cli-secret",
    });
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.err.trim()).toMatch(/^srvutil: SRVUTIL_CENTRAL_URL is not set/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err + r.out).not.toContain("tok-cli-secret");
  });
});

describe("srvutil agent requeue", () => {
  it("moves rejected/ back into the spool and drops the reasons", async () => {
    const rejected = join(dir, "metrics", "rejected");
    mkdirSync(rejected, { recursive: true });
    const name = "20261125T144700000Z-1a2b3c4d.csv";
    writeFileSync(join(rejected, name), "timestamp,server\n");
    writeFileSync(join(rejected, `${name}.error.txt`), "HTTP 422: too old\n");
    const r = await srvutil(["agent", "requeue", "--agent-dir", dir], {});
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(`requeued 1 file(s) from ${rejected}; the next upload sends them\n`);
    expect(readdirSync(rejected)).toEqual([]);
    expect(readdirSync(join(dir, "metrics")).filter((n) => n.endsWith(".csv"))).toEqual([name]);
  });
});

describe("srvutil agent run --once with the central down", () => {
  /**
   * Runs the real CLI with stdout and stderr on one file descriptor, as in a
   * terminal or a cron mail, and returns what that shared stream received.
   */
  async function runSharingOneStream(centralUrl: string): Promise<{ code: number | null; text: string }> {
    // Two quick attempts instead of five with up to a minute of backoff.
    mkdirSync(join(dir, "agent"), { recursive: true });
    writeFileSync(
      join(dir, "agent", "agent.json"),
      JSON.stringify({ upload: { max_attempts: 2, backoff_initial_ms: 10, backoff_max_ms: 20 } }),
    );
    const file = join(dir, "terminal.txt");
    const fd = openSync(file, "w");
    try {
      const code = await new Promise<number | null>((done, fail) => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "agent", "run", "--once"],
          {
            cwd: ROOT,
            env: {
              PATH: process.env.PATH ?? "",
              SRVUTIL_AGENT_DIR: join(dir, "agent"),
              SRVUTIL_CENTRAL_URL: centralUrl,
              SRVUTIL_AGENT_TOKEN: "tok-cli",
              SRVUTIL_AGENT_CPU_MEASURE_MS: "50",
            },
            stdio: ["ignore", fd, fd],
          },
        );
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.once("error", fail);
        child.once("close", (c) => {
          clearTimeout(timer);
          done(c);
        });
      });
      return { code, text: readFileSync(file, "utf8") };
    } finally {
      closeSync(fd);
    }
  }

  /** Every line is whole: the warning and the summary each start a line of their own and end with \n. */
  function expectWholeLines(text: string, reason: RegExp): void {
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.slice(0, -1).split("\n");
    for (const line of lines) expect(line).toMatch(/^(srvutil-agent: (warn|error): |sample )/);
    expect(text).not.toContain("\r");
    const warning = lines.find((l) => l.startsWith("srvutil-agent: warn: "));
    expect(warning).toMatch(reason);
    expect(warning).toContain("data stays spooled for the next round");
    const summary = lines.find((l) => l.startsWith("sample "));
    expect(summary).toMatch(
      /uploaded 0 file\(s\), 1 pending, 0 rejected \(central unavailable after \d+ attempts/,
    );
    expect(text).not.toContain("tok-cli");
  }

  it("ends the summary with a newline, apart from the warning, when nothing listens", async () => {
    const closedPort = await freePort();
    const r = await runSharingOneStream(`http://127.0.0.1:${closedPort}`);
    expect(r.code).toBe(EXIT_CODE.unavailable);
    expectWholeLines(r.text, /ECONNREFUSED/);
  });

  it("keeps a proxy's multi-line 502 page on the warning's and the summary's own lines", async () => {
    // What nginx answers while the central behind it is down: CRLF lines, no final newline.
    const proxy = createServer((req, res) => {
      req.resume();
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center>nginx</center>");
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
    try {
      const r = await runSharingOneStream(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      expect(r.code).toBe(EXIT_CODE.unavailable);
      expectWholeLines(r.text, /HTTP 502: <html> <head><title>502 Bad Gateway<\/title><\/head> <body>/);
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});
