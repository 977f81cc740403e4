import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unknownVariableWarnings } from "../../src/central/config.js";
import { REPO_ROOT, runCli, srvutilCommand } from "../helpers/cli.js";
import { freePort } from "../helpers/net.js";

/** A misspelled SRVUTIL_* variable is named with its nearest setting, never silently ignored. */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-env-warn-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("unknownVariableWarnings", () => {
  it("suggests the setting a typo was meant to be", () => {
    expect(
      unknownVariableWarnings({
        SRVUTIL_REPORT_TIMEZONE: "Europe/Berlin",
        SRVUTIL_REPORT_DISK_PERCENT_WARN: "80",
        SRVUTIL_REPORT_CPU_DAY_AVG_WARNIGN: "70",
        SRVUTIL_LISTN: "127.0.0.1:8080",
        SRVUTIL_SMTP_HOST: "mail.example.com",
      }),
    ).toEqual([
      "SRVUTIL_LISTN is not a srvutil setting and is ignored (did you mean SRVUTIL_LISTEN?)",
      "SRVUTIL_REPORT_CPU_DAY_AVG_WARNIGN is not a srvutil setting and is ignored (did you mean SRVUTIL_REPORT_CPU_DAY_AVG_WARNING?)",
      "SRVUTIL_REPORT_DISK_PERCENT_WARN is not a srvutil setting and is ignored (did you mean SRVUTIL_REPORT_DISK_PERCENT_WARNING?)",
      "SRVUTIL_REPORT_TIMEZONE is not a srvutil setting and is ignored (did you mean SRVUTIL_REPORT_TZ?)",
      // Nothing close enough: no guess rather than a wrong one.
      "SRVUTIL_SMTP_HOST is not a srvutil setting and is ignored",
    ]);
  });

  it("is silent about the central's settings, the agent's, the tests' and the benchmarks'", () => {
    expect(
      unknownVariableWarnings({
        SRVUTIL_REPORT_TZ: "UTC",
        SRVUTIL_REPORT_DISK_PERCENT_WARNING: "80",
        SRVUTIL_DB_URL_FILE: "/x",
        SRVUTIL_CENTRAL_URL: "http://c",
        SRVUTIL_SERVER_NAME: "web-1",
        SRVUTIL_AGENT_TOKEN_FILE: "/t",
        SRVUTIL_TEST_PG_URL: "postgres://x",
        SRVUTIL_TEST_NO_PROVISION: "1",
        SRVUTIL_BENCH_SERVERS: "100",
        PATH: "/bin",
      }),
    ).toEqual([]);
  });
});

describe("the central warns at start", () => {
  it("central serve names the typo on stderr and serves with the default", async () => {
    const port = await freePort();
    const [cmd, argv] = srvutilCommand(["central", "serve"]);
    const child = spawn(cmd, argv, {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        SRVUTIL_DATA_DIR: dir,
        SRVUTIL_LISTEN: `127.0.0.1:${port}`,
        SRVUTIL_REPORT_TIMEZONE: "Europe/Berlin",
        SRVUTIL_TEST_PG_URL: process.env.SRVUTIL_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    try {
      const started = Date.now();
      while (!stdout.includes("listening on") && Date.now() - started < 60_000) {
        if (child.exitCode !== null) throw new Error(`central exited: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(stderr).toContain(
        "srvutil: warning: SRVUTIL_REPORT_TIMEZONE is not a srvutil setting and is ignored (did you mean SRVUTIL_REPORT_TZ?)\n",
      );
      expect(stderr).not.toContain("SRVUTIL_TEST_PG_URL");
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("close", r));
    }
  }, 90_000);

  it("every command that reads the central's settings warns, even when it then refuses them", async () => {
    const r = await runCli(["central", "user", "list"], {
      PATH: process.env.PATH ?? "",
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_DATADIR: dir,
      SRVUTIL_LISTEN: "nonsense",
    });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(
      /^srvutil: warning: SRVUTIL_DATADIR is not a srvutil setting and is ignored \(did you mean SRVUTIL_DATA_DIR\?\)\n.*SRVUTIL_LISTEN/s,
    );
  });
});

describe("docs/report.md", () => {
  it("lists every SRVUTIL_REPORT_<THRESHOLD> variable with its default", async () => {
    const { readFileSync } = await import("node:fs");
    const { THRESHOLD_ENV_VARIABLES } = await import("../../src/central/config.js");
    const { DEFAULT_THRESHOLDS } = await import("../../src/central/report/thresholds.js");
    const doc = readFileSync(path.join(REPO_ROOT, "docs/report.md"), "utf8");
    const listed = [...doc.matchAll(/^\| `(SRVUTIL_REPORT_[A-Z0-9_]+)` \| `([a-z0-9_]+)` \| ([\d.]+) \|$/gm)];
    expect(listed.map((m) => m[1])).toEqual([...THRESHOLD_ENV_VARIABLES]);
    for (const m of listed) {
      expect(Number(m[3]), m[1]).toBe(DEFAULT_THRESHOLDS[m[2] as keyof typeof DEFAULT_THRESHOLDS]);
    }
  });
});
