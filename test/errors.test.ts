import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentConfigError, AgentUsageError } from "../src/agent/errors.js";
import { WeekError } from "../src/central/aggregate/week.js";
import { createAgentToken } from "../src/central/auth/tokens.js";
import { ConfigError as CentralConfigError } from "../src/central/config.js";
import { GroupsConfigError } from "../src/central/delivery/groups.js";
import { UnknownGroupError } from "../src/central/delivery/service.js";
import { HttpError } from "../src/central/http/http-error.js";
import { ServerMismatchError } from "../src/central/ingest/ingest-service.js";
import { RawFileWriteError } from "../src/central/ingest/raw-file-writer.js";
import { MailConfigError, MailSendError } from "../src/central/mail/index.js";
import { ThresholdConfigError } from "../src/central/report/thresholds.js";
import { StoreConfigError, StoreUnavailableError } from "../src/central/storage/open.js";
import { reportCliError } from "../src/cli/errors.js";
import {
  ConfigError,
  type ErrorCategory,
  EXIT_CODE,
  errorCategory,
  errorCode,
  errorCodeOf,
  exitCodeOf,
  HTTP_STATUS,
  httpStatusOf,
  InputError,
  SrvutilError,
  UnavailableError,
} from "../src/errors.js";
import { CsvValidationError } from "../src/protocol/index.js";
import { csvFor, makeTestCentral, type TestCentral } from "./central/ingest/fixtures.js";
import { runCli } from "./helpers/cli.js";
import { utcDateDaysAgo } from "./helpers/clock.js";

describe("error categories", () => {
  it("map to one HTTP status and one sysexits exit code each", () => {
    expect(HTTP_STATUS).toEqual({ bad_input: 400, bad_config: 500, unavailable: 503, internal: 500 });
    expect(EXIT_CODE).toEqual({ bad_input: 64, bad_config: 78, unavailable: 69, internal: 70 });
  });

  it.each<[string, unknown, ErrorCategory, number]>([
    ["InputError", new InputError("x"), "bad_input", 400],
    ["CsvValidationError", new CsvValidationError("number", "x", 2, "cpu_percent"), "bad_input", 400],
    ["ServerMismatchError", new ServerMismatchError("a", "b", 1), "bad_input", 403],
    ["HttpError 413", new HttpError(413, "too_large", "x"), "bad_input", 413],
    ["HttpError 503", new HttpError(503, "unavailable", "x"), "unavailable", 503],
    ["WeekError", new WeekError("x"), "bad_input", 400],
    ["UnknownGroupError", new UnknownGroupError("x"), "bad_input", 400],
    ["AgentUsageError", new AgentUsageError("x"), "bad_input", 400],
    ["ConfigError", new ConfigError("x"), "bad_config", 500],
    ["AgentConfigError", new AgentConfigError("x"), "bad_config", 500],
    ["MailConfigError", new MailConfigError("x"), "bad_config", 500],
    ["GroupsConfigError", new GroupsConfigError("x"), "bad_config", 500],
    ["ThresholdConfigError", new ThresholdConfigError("x"), "bad_config", 500],
    ["StoreConfigError", new StoreConfigError("x"), "bad_config", 500],
    ["MailSendError permanent", new MailSendError("x", true, null, 550), "bad_config", 500],
    ["MailSendError transient", new MailSendError("x", false, "ECONNREFUSED", null), "unavailable", 503],
    ["StoreUnavailableError", new StoreUnavailableError("x"), "unavailable", 503],
    ["RawFileWriteError", new RawFileWriteError("/f", "ENOSPC", "x"), "unavailable", 503],
    ["UnavailableError", new UnavailableError("x"), "unavailable", 503],
    ["TypeError", new TypeError("x"), "internal", 500],
    ["a thrown string", "x", "internal", 500],
  ])("%s is %s (HTTP %d)", (_label, err, category, status) => {
    expect(errorCategory(err)).toBe(category);
    expect(httpStatusOf(err)).toBe(status);
    expect(exitCodeOf(err)).toBe(EXIT_CODE[category]);
  });

  it("is one base type: every config error is the same ConfigError, names are the real class names", () => {
    expect(CentralConfigError).toBe(ConfigError);
    expect(new AgentConfigError("x")).toBeInstanceOf(ConfigError);
    expect(new UnknownGroupError("x")).toBeInstanceOf(SrvutilError);
    expect(new UnknownGroupError("x").name).toBe("UnknownGroupError");
    expect(new StoreUnavailableError("x").name).toBe("StoreUnavailableError");
  });

  it("reportCliError prints expected errors as one line and bugs with their stack", () => {
    const lines: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => lines.push(args[0]);
    try {
      expect(reportCliError(new ConfigError("SRVUTIL_X: expected y, got 'z'"))).toBe(78);
      expect(reportCliError(new TypeError("boom"))).toBe(70);
    } finally {
      console.error = original;
    }
    expect(lines[0]).toBe("srvutil: SRVUTIL_X: expected y, got 'z' (SRVUTIL_E_MISCONFIGURED)");
    expect(lines[1]).toBeInstanceOf(TypeError);
  });
});

describe("every error's stable code", () => {
  it("is its reason's, else its category's; the CLIs print it", () => {
    expect(errorCodeOf(new InputError("x"))).toBe("SRVUTIL_E_BAD_REQUEST");
    expect(errorCodeOf(new InputError("x", { reason: "usage" }))).toBe("SRVUTIL_E_USAGE");
    expect(errorCodeOf(new ConfigError("x"))).toBe("SRVUTIL_E_MISCONFIGURED");
    expect(errorCodeOf(new UnavailableError("x"))).toBe("SRVUTIL_E_UNAVAILABLE");
    expect(errorCodeOf(new CsvValidationError("number", "x", 2, "cpu_percent"))).toBe("SRVUTIL_E_NUMBER");
    expect(errorCodeOf(new HttpError(413, "too_large", "x"))).toBe("SRVUTIL_E_TOO_LARGE");
    expect(errorCodeOf(new AgentUsageError("x"))).toBe("SRVUTIL_E_USAGE");
    expect(errorCodeOf(new TypeError("x"))).toBe("SRVUTIL_E_INTERNAL");
  });
});

describe("error codes", () => {
  it("are SRVUTIL_E_ and the reason in capitals, for every reason", () => {
    expect(errorCode("header_too_long")).toBe("SRVUTIL_E_HEADER_TOO_LONG");
    expect(errorCode("too_many_server_mounts")).toBe("SRVUTIL_E_TOO_MANY_SERVER_MOUNTS");
    expect(errorCode("unauthorized")).toBe("SRVUTIL_E_UNAUTHORIZED");
  });
});

describe("the central's HTTP answers by category", () => {
  let c: TestCentral;
  beforeEach(async () => {
    c = await makeTestCentral();
    // A route that throws what it is told: the handler must map by category, not by class.
    const throwers: Record<string, () => unknown> = {
      bad_input: () => new InputError("your fault"),
      bad_config: () => new ConfigError("SRVUTIL_SECRET_THING: expected x"),
      unavailable: () => new UnavailableError("db at 10.0.0.5 refused"),
      internal: () => new TypeError("undefined is not a function"),
      conflict: () => new InputError("taken", { status: 409 }),
    };
    c.app.get<{ Params: { kind: string } }>("/test/throw/:kind", async (req) => {
      throw throwers[req.params.kind]!();
    });
  });
  afterEach(() => c.cleanup());

  it.each([
    ["bad_input", 400, "bad_request", "your fault"],
    ["bad_config", 500, "misconfigured", "the central is misconfigured; see its log"],
    ["unavailable", 503, "unavailable", "a dependency of the central is unavailable; retry later"],
    ["internal", 500, "internal", "internal error; see the central's log"],
    ["conflict", 409, "bad_request", "taken"],
  ])(
    "%s → %d %s, without leaking configuration or dependency details",
    async (kind, status, reason, error) => {
      const res = await c.app.inject({ method: "GET", url: `/test/throw/${kind}` });
      expect(res.statusCode).toBe(status);
      expect(res.json()).toEqual({
        error,
        line: null,
        column: null,
        reason,
        code: `SRVUTIL_E_${reason.toUpperCase()}`,
      });
    },
  );

  it("answers 503 when the raw file cannot be stored, and stores nothing", async () => {
    // received_metrics/ is a regular file: the file system refuses the write.
    writeFileSync(c.config.paths.receivedMetrics, "not a directory");
    const token = await createAgentToken(c.store, "web-01");
    const res = await c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
      payload: csvFor("web-01", `${utcDateDaysAgo(7)}T10:00:00Z`, 2), // recent: not refused as too old first
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ reason: "unavailable" });
    expect(c.store.db.prepare("SELECT COUNT(*) FROM samples").pluck().get()).toBe(0);
  });
});

describe("srvutil exit codes, one real run per category", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-exit-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const env = (over: Record<string, string>) => ({
    PATH: process.env.PATH ?? "",
    HOME: dir,
    SRVUTIL_DATA_DIR: path.join(dir, "data"),
    ...over,
  });

  it("bad input: a bad flag value exits 64 with one line", async () => {
    const r = await runCli(["central", "token", "add", "web-01", "--role", "admin"], env({}));
    expect(r.code).toBe(64);
    expect(r.stderr.trim()).toBe(
      "srvutil: --role: expected agent, viewer or relay, got 'admin' (SRVUTIL_E_USAGE)",
    );
  });

  it("bad configuration: a malformed variable exits 78 with one line naming it and the form", async () => {
    const r = await runCli(["central", "token", "list"], env({ SRVUTIL_MAX_ROWS_PER_FILE: "lots" }));
    expect(r.code).toBe(78);
    expect(r.stderr.trim()).toBe(
      "srvutil: SRVUTIL_MAX_ROWS_PER_FILE: expected a whole number ≥ 1, got 'lots' (SRVUTIL_E_MISCONFIGURED)",
    );
  });

  it("unavailable: a database that does not answer exits 69 with one line", async () => {
    const r = await runCli(
      ["central", "token", "list"],
      env({ SRVUTIL_DB_URL: "postgres://postgres@127.0.0.1:1/srvutil" }),
    );
    expect(r.code).toBe(69);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^srvutil: SRVUTIL_DB_URL: the PostgreSQL server does not answer/);
  });

  it("internal: an error nobody classified exits 70 with its stack", async () => {
    // The data directory is a regular file: SQLite's own error is not one of ours.
    const file = path.join(dir, "data-file");
    writeFileSync(file, "");
    const r = await runCli(["central", "token", "list"], env({ SRVUTIL_DATA_DIR: file }));
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/\n\s+at /); // a stack trace, for the bug report
  });
});
