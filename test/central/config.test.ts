import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOG_ROTATION } from "../../src/central/automation-log.js";
import {
  CENTRAL_ENV_VARIABLES,
  ConfigError,
  DEFAULT_DIGEST_SETTINGS,
  loadCentralConfig,
  THRESHOLD_ENV_VARIABLES,
} from "../../src/central/config.js";
import { DEFAULT_SMTP_OPTIONS } from "../../src/central/mail/settings.js";
import { DEFAULT_THRESHOLDS } from "../../src/central/report/thresholds.js";
import { DEFAULT_RETENTION } from "../../src/central/retention.js";
import { EXIT_CODE, HTTP_STATUS } from "../../src/errors.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Every `SRVUTIL_…` name in the first column of README.md's "## Configuration" table, by "used by". */
function readmeVariables(): { central: Set<string>; agent: Set<string> } {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## Configuration$/m)[1]!.split(/^## /m)[0]!;
  const out = { central: new Set<string>(), agent: new Set<string>() };
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5 || !cells[1]!.includes("SRVUTIL_")) continue;
    const usedBy = cells[3] as "central" | "agent";
    expect(["central", "agent"], line).toContain(usedBy);
    for (const m of cells[1]!.matchAll(/`(SRVUTIL_[A-Z0-9_<>]+)`/g)) out[usedBy].add(m[1]!);
  }
  return out;
}

/** The variables src/agent/config.ts reads (the agent must not import central code, so its names are read from source). */
function agentVariables(): Set<string> {
  const source = readFileSync(path.join(ROOT, "src/agent/config.ts"), "utf8");
  return new Set([...source.matchAll(/\bSRVUTIL_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]));
}

describe("central configuration schema", () => {
  it("keeps every default", () => {
    const c = loadCentralConfig({});
    expect(c).toMatchObject({
      dataDir: path.resolve("./data"),
      listen: { host: "127.0.0.1", port: 8080 },
      dbUrl: `sqlite:${path.resolve("./data/srvutil.db")}`,
      mountLimits: { perSample: 64, perServerWeek: 256 },
      reportTimeZone: "UTC",
      smtpUrl: null,
      mailFrom: "srvutil <srvutil@localhost>",
      reportTo: [],
      maxBodyBytes: 16 * 1024 * 1024,
      maxFutureSkewMs: 86_400_000,
      maxRowsPerFile: 200_000,
      parseWorkers: 2,
      rateLimit: { perSecond: 5, burst: 60 },
      sqliteSynchronous: "NORMAL",
      retention: { rawDays: 35, receivedMetricsDays: null, hourlyMonths: 13 },
      tls: null,
      logLevel: "warn",
      logRotation: { maxBytes: 10 * 1024 * 1024, maxFiles: 5, daily: false },
      delivery: {
        cron: "0 7 * * 1",
        groupsFile: null,
        retry: { initialDelayMs: 60_000, maxDelayMs: 3_600_000, retryForMs: 12 * 3_600_000 },
        pollMs: 30_000,
        leaseMs: 300_000,
      },
      smtp: {
        caFile: null,
        requireTls: false,
        allowSelfSigned: false,
        pool: true,
        maxConnections: 2,
        timeoutMs: 30_000,
      },
      thresholds: {},
      trustedProxies: [],
      authFailuresPerMinute: 30,
      httpTimeouts: { headersMs: 20_000, requestMs: 120_000, bodyIdleMs: 30_000 },
    });
  });

  it("reads every variable, and empty or blank ones count as unset", () => {
    const c = loadCentralConfig({
      SRVUTIL_LISTEN: "[::1]:9000",
      SRVUTIL_MAX_ROWS_PER_FILE: "10",
      SRVUTIL_MAX_MOUNTS_PER_SAMPLE: "100",
      SRVUTIL_MAX_MOUNTS_PER_SERVER: "1000",
      SRVUTIL_PARSE_WORKERS: "0",
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0.5",
      SRVUTIL_RATE_LIMIT_BURST: "3",
      SRVUTIL_SQLITE_SYNCHRONOUS: "full",
      SRVUTIL_LOG_LEVEL: "debug",
      SRVUTIL_LOG_ROTATE_DAILY: "yes",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_DELIVERY_LEASE_SECONDS: "0.5",
      SRVUTIL_SMTP_POOL: "off",
      SRVUTIL_SMTP_TIMEOUT_SECONDS: "5",
      SRVUTIL_REPORT_DISK_PERCENT_WARNING: "80",
      SRVUTIL_REPORT_TO: " ",
      SRVUTIL_GROUPS_FILE: "",
      SRVUTIL_RETENTION_RAW_DAYS: "keep",
      SRVUTIL_RETENTION_RECEIVED_METRICS_DAYS: "400",
      SRVUTIL_TRUSTED_PROXIES: "10.0.0.5, 192.168.0.0/16,::1, ::ffff:172.16.0.9",
      SRVUTIL_AUTH_FAILURES_PER_MINUTE: "0",
      SRVUTIL_HEADERS_TIMEOUT_SECONDS: "0.5",
      SRVUTIL_REQUEST_TIMEOUT_SECONDS: "2",
      SRVUTIL_BODY_IDLE_TIMEOUT_SECONDS: "1.25",
    });
    expect(c.trustedProxies).toEqual(["10.0.0.5/32", "192.168.0.0/16", "::1/128", "172.16.0.9/32"]);
    expect(c.authFailuresPerMinute).toBe(0);
    expect(c.httpTimeouts).toEqual({ headersMs: 500, requestMs: 2000, bodyIdleMs: 1250 });
    expect(c.listen).toEqual({ host: "::1", port: 9000 });
    expect(c.retention).toEqual({ rawDays: null, receivedMetricsDays: 400, hourlyMonths: 13 });
    expect(c.maxRowsPerFile).toBe(10);
    expect(c.mountLimits).toEqual({ perSample: 100, perServerWeek: 1000 });
    expect(c.parseWorkers).toBe(0);
    expect(c.rateLimit).toEqual({ perSecond: 0.5, burst: 3 });
    expect(c.sqliteSynchronous).toBe("FULL");
    expect(c.logLevel).toBe("debug");
    expect(c.logRotation.daily).toBe(true);
    expect(c.delivery.cron).toBeNull();
    expect(c.delivery.leaseMs).toBe(500);
    expect(c.smtp.pool).toBe(false);
    expect(c.smtp.timeoutMs).toBe(5000);
    expect(c.thresholds).toEqual({ disk_percent_warning: 80 });
    expect(c.reportTo).toEqual([]);
    expect(c.delivery.groupsFile).toBeNull();
  });

  // One malformed value per variable: a ConfigError (exit 78, HTTP 500) naming the variable.
  const bad: Record<string, string> = {
    SRVUTIL_LISTEN: "8080",
    SRVUTIL_AGENT_AUTO_UPDATE: "sometimes",
    SRVUTIL_REPORT_TZ: "Mars/Base",
    SRVUTIL_SMTP_URL: "http://mail",
    SRVUTIL_MAIL_FROM: "x",
    SRVUTIL_REPORT_TO: "ops",
    SRVUTIL_MAX_BODY_BYTES: "0",
    SRVUTIL_MAX_FUTURE_SKEW_SECONDS: "-1",
    SRVUTIL_MAX_ROWS_PER_FILE: "many",
    SRVUTIL_MAX_MOUNTS_PER_SAMPLE: "0",
    SRVUTIL_MAX_MOUNTS_PER_SERVER: "lots",
    SRVUTIL_PARSE_WORKERS: "65",
    SRVUTIL_RATE_LIMIT_PER_SECOND: "-1",
    SRVUTIL_RATE_LIMIT_BURST: "lots",
    SRVUTIL_SQLITE_SYNCHRONOUS: "OFF",
    SRVUTIL_RAW_STORE: "s3",
    SRVUTIL_RETENTION_RAW_DAYS: "0",
    SRVUTIL_RETENTION_RECEIVED_METRICS_DAYS: "a month",
    SRVUTIL_RETENTION_HOURLY_MONTHS: "1.5",
    SRVUTIL_LOG_LEVEL: "loud",
    SRVUTIL_LOG_MAX_BYTES: "10MB",
    SRVUTIL_LOG_MAX_FILES: "0",
    SRVUTIL_LOG_ROTATE_DAILY: "maybe",
    SRVUTIL_REPORT_CRON: "every monday",
    SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS: "0",
    SRVUTIL_DELIVERY_RETRY_MAX_SECONDS: "x",
    SRVUTIL_DELIVERY_RETRY_HOURS: "-1",
    SRVUTIL_DELIVERY_POLL_SECONDS: "soon",
    SRVUTIL_DELIVERY_LEASE_SECONDS: "0",
    SRVUTIL_SMTP_REQUIRE_TLS: "maybe",
    SRVUTIL_SMTP_ALLOW_SELF_SIGNED: "2",
    SRVUTIL_SMTP_POOL: "sometimes",
    SRVUTIL_SMTP_MAX_CONNECTIONS: "0",
    SRVUTIL_SMTP_TIMEOUT_SECONDS: "soon",
    SRVUTIL_PUBLIC_URL: "srvutil.example.com",
    SRVUTIL_DIGEST_TOP_N: "0",
    SRVUTIL_DIGEST_MAX_CHARTS: "31",
    SRVUTIL_ATTACHMENT_MAX_BYTES: "100",
    SRVUTIL_SEED_COMPAT: "maybe",
    SRVUTIL_SEED_COMPAT_NETWORKS: "10.0.0.0/33",
    SRVUTIL_PROMETHEUS_SERVER_LABEL: "host name",
    SRVUTIL_OTLP_SERVER_ATTRIBUTE: "host-name",
    SRVUTIL_TELEGRAF_SERVER_TAG: "9host",
    SRVUTIL_TRUSTED_PROXIES: "proxy.example.com",
    SRVUTIL_AUTH_FAILURES_PER_MINUTE: "-1",
    SRVUTIL_HEADERS_TIMEOUT_SECONDS: "0",
    SRVUTIL_REQUEST_TIMEOUT_SECONDS: "soon",
    SRVUTIL_BODY_IDLE_TIMEOUT_SECONDS: "-5",
    SRVUTIL_REPORT_CPU_DAY_AVG_WARNING: "high",
    SRVUTIL_SMTP_URL_FILE: "/nonexistent/srvutil/smtp-url",
    SRVUTIL_SMTP_PASSWORD: "set without SRVUTIL_SMTP_URL",
    SRVUTIL_SMTP_PASSWORD_FILE: "/nonexistent/srvutil/smtp-password",
    SRVUTIL_DB_URL_FILE: "/nonexistent/srvutil/db-url",
    SRVUTIL_LOCAL_LOGIN: "maybe",
    SRVUTIL_OIDC_ISSUER: "login.example.com",
    SRVUTIL_OIDC_CLIENT_ID: "set without the issuer",
    SRVUTIL_OIDC_CLIENT_SECRET: "set without the issuer",
    SRVUTIL_OIDC_CLIENT_SECRET_FILE: "/nonexistent/srvutil/oidc-secret",
    SRVUTIL_OIDC_SCOPES: "profile email",
    SRVUTIL_OIDC_ROLE_CLAIM: "realm..roles",
    SRVUTIL_OIDC_ADMIN_VALUES: "set without the issuer",
    SRVUTIL_OIDC_VIEWER_VALUES: "set without the issuer",
    SRVUTIL_OIDC_GROUP_VIEWERS: "team-without-groups",
    SRVUTIL_OIDC_PROVIDER_NAME: "x".repeat(61),
    SRVUTIL_OIDC_TIMEOUT_SECONDS: "0",
  };
  it.each(Object.entries(bad))("refuses %s=%j as a ConfigError naming it", (name, value) => {
    let caught: unknown;
    try {
      loadCentralConfig({ [name]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.message).toMatch(new RegExp(`^${name}: `));
    expect(err.message).toMatch(/expected|must/);
    expect(err.category).toBe("bad_config");
    expect(err.status).toBe(HTTP_STATUS.bad_config);
    expect(EXIT_CODE[err.category]).toBe(78);
  });

  it("has a malformed-value case above for every variable whose value has a form", () => {
    // Free-form paths and URLs (data dir, DB URL, TLS and CA files, groups file, scrape and alerts config) are checked when used.
    const freeForm = [
      "SRVUTIL_DATA_DIR",
      "SRVUTIL_DB_URL",
      "SRVUTIL_TLS_CERT",
      "SRVUTIL_TLS_KEY",
      "SRVUTIL_SMTP_CA_FILE",
      "SRVUTIL_GROUPS_FILE",
      "SRVUTIL_SCRAPE_CONFIG",
      "SRVUTIL_ALERTS_CONFIG",
      "SRVUTIL_AGENT_SIGNING_KEY_FILE",
    ];
    expect(new Set([...Object.keys(bad), ...freeForm])).toEqual(
      new Set([...CENTRAL_ENV_VARIABLES, "SRVUTIL_REPORT_CPU_DAY_AVG_WARNING"]),
    );
  });

  it("reports every problem at once, and checks settings that go together", () => {
    expect(() => loadCentralConfig({ SRVUTIL_LISTEN: "x", SRVUTIL_PARSE_WORKERS: "-3" })).toThrow(
      /^SRVUTIL_LISTEN: .*; SRVUTIL_PARSE_WORKERS: expected a whole number 0-64, got '-3'$/,
    );
    expect(() => loadCentralConfig({ SRVUTIL_TLS_CERT: "/c.pem" })).toThrow(/must be set together/);
    expect(() => loadCentralConfig({ SRVUTIL_RATE_LIMIT_BURST: "0" })).toThrow(/SRVUTIL_RATE_LIMIT_BURST/);
    expect(() => loadCentralConfig({ SRVUTIL_HEADERS_TIMEOUT_SECONDS: "200" })).toThrow(
      /^SRVUTIL_HEADERS_TIMEOUT_SECONDS must be <= SRVUTIL_REQUEST_TIMEOUT_SECONDS/,
    );
    expect(() => loadCentralConfig({ SRVUTIL_TRUSTED_PROXIES: "10.0.0.1, 10.0.0.0/40" })).toThrow(
      /^SRVUTIL_TRUSTED_PROXIES: '10.0.0.0\/40': prefix must be 0-32$/,
    );
    expect(
      loadCentralConfig({ SRVUTIL_RATE_LIMIT_PER_SECOND: "0", SRVUTIL_RATE_LIMIT_BURST: "0" }).rateLimit,
    ).toEqual({ perSecond: 0, burst: 0 });
  });

  it("reports settings that do not go together alongside malformed ones, in one error", () => {
    let message = "";
    try {
      loadCentralConfig({
        SRVUTIL_PARSE_WORKERS: "-3",
        SRVUTIL_TLS_KEY: "/k.pem",
        SRVUTIL_HEADERS_TIMEOUT_SECONDS: "200",
        SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS: "600",
        SRVUTIL_DELIVERY_RETRY_MAX_SECONDS: "60",
        SRVUTIL_SMTP_PASSWORD: "pw",
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split("; ")).toEqual([
      "SRVUTIL_PARSE_WORKERS: expected a whole number 0-64, got '-3'",
      "SRVUTIL_TLS_CERT and SRVUTIL_TLS_KEY must be set together",
      "SRVUTIL_HEADERS_TIMEOUT_SECONDS must be <= SRVUTIL_REQUEST_TIMEOUT_SECONDS (the request includes its headers)",
      "SRVUTIL_DELIVERY_RETRY_MAX_SECONDS must be >= SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS",
      "SRVUTIL_SMTP_PASSWORD: must be set together with SRVUTIL_SMTP_URL (smtp://user@host:587)",
    ]);
  });

  it("keeps each default in one place: the digest's, the log's and SMTP's defaults are the schema's", () => {
    const c = loadCentralConfig({});
    expect(c.digest).toEqual(DEFAULT_DIGEST_SETTINGS);
    expect(c.logRotation).toEqual(DEFAULT_LOG_ROTATION);
    expect(c.smtp).toEqual(DEFAULT_SMTP_OPTIONS);
    expect(c.retention).toEqual(DEFAULT_RETENTION);
  });

  it("has one SRVUTIL_REPORT_<THRESHOLD> variable per report threshold", () => {
    expect(THRESHOLD_ENV_VARIABLES).toEqual(
      Object.keys(DEFAULT_THRESHOLDS).map((k) => `SRVUTIL_REPORT_${k.toUpperCase()}`),
    );
  });

  it("does not read process.env in library code: only the CLI calls the loader with it", () => {
    const offenders = readdirRecursive(path.join(ROOT, "src/central"))
      .filter((file) => /process\.env[.[),]|=\s*process\.env/.test(readFileSync(file, "utf8")))
      .map((file) => path.relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});

describe("secrets from files (X_FILE)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "srvutil-secrets-"));
  const secret = (name: string, content: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  };

  it("reads SRVUTIL_SMTP_URL_FILE and SRVUTIL_DB_URL_FILE without their trailing newline", () => {
    const c = loadCentralConfig({
      SRVUTIL_SMTP_URL_FILE: secret("smtp-url", "smtp://reports:s3cret@mail.example.com:587\n"),
      SRVUTIL_DB_URL_FILE: secret("db-url", "postgres://srvutil:pw@db:5432/srvutil\r\n"),
    });
    expect(c.smtpUrl).toBe("smtp://reports:s3cret@mail.example.com:587");
    expect(c.dbUrl).toBe("postgres://srvutil:pw@db:5432/srvutil");
  });

  it("puts SRVUTIL_SMTP_PASSWORD(_FILE) into the URL, percent-encoded (a Gmail app password, any character)", () => {
    const c = loadCentralConfig({
      SRVUTIL_SMTP_URL: "smtp://reports%40example.com@smtp.gmail.com:587",
      SRVUTIL_SMTP_PASSWORD_FILE: secret("smtp-password", "abcd efgh@ijkl/mnop\n"),
    });
    const u = new URL(c.smtpUrl!);
    expect(decodeURIComponent(u.username)).toBe("reports@example.com");
    expect(decodeURIComponent(u.password)).toBe("abcd efgh@ijkl/mnop");
    expect(u.hostname).toBe("smtp.gmail.com");
    expect(
      loadCentralConfig({ SRVUTIL_SMTP_URL: "smtp://u@h:25", SRVUTIL_SMTP_PASSWORD: "p:w" }).smtpUrl,
    ).toBe("smtp://u:p%3Aw@h:25");
  });

  it("refuses ambiguous or unusable secrets, naming the variable the operator set", () => {
    const file = secret("url2", "smtp://a:b@h:25");
    expect(() => loadCentralConfig({ SRVUTIL_SMTP_URL: "smtp://h:25", SRVUTIL_SMTP_URL_FILE: file })).toThrow(
      /^SRVUTIL_SMTP_URL_FILE: must not be set together with SRVUTIL_SMTP_URL/,
    );
    expect(() => loadCentralConfig({ SRVUTIL_SMTP_URL_FILE: secret("bad-url", "http://mail\n") })).toThrow(
      /^SRVUTIL_SMTP_URL_FILE: expected smtp:\/\//,
    );
    expect(() => loadCentralConfig({ SRVUTIL_DB_URL_FILE: secret("empty", "\n") })).toThrow(
      /^SRVUTIL_DB_URL_FILE: '.*' is empty/,
    );
    expect(() => loadCentralConfig({ SRVUTIL_SMTP_URL: "smtp://h:25", SRVUTIL_SMTP_PASSWORD: "p" })).toThrow(
      /^SRVUTIL_SMTP_PASSWORD: SRVUTIL_SMTP_URL must name the user/,
    );
    expect(() =>
      loadCentralConfig({
        SRVUTIL_SMTP_URL: "smtp://u:old@h:25",
        SRVUTIL_SMTP_PASSWORD_FILE: secret("pw", "new"),
      }),
    ).toThrow(/^SRVUTIL_SMTP_PASSWORD_FILE: must not be set when SRVUTIL_SMTP_URL holds a password/);
  });

  it("never puts a secret file's content into an error message", () => {
    const file = secret("leaky", "smtp://u:TOPSECRET@h:99999999\n");
    let message = "";
    try {
      loadCentralConfig({ SRVUTIL_SMTP_URL_FILE: file, SRVUTIL_LISTEN: "x" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^SRVUTIL_LISTEN: /);
    expect(message).not.toContain("TOPSECRET");
  });
});

describe("README configuration table", () => {
  it("lists exactly the central schema's variables", () => {
    const { central } = readmeVariables();
    const expected = new Set([...CENTRAL_ENV_VARIABLES, "SRVUTIL_REPORT_<THRESHOLD>"]);
    expect([...central].sort()).toEqual([...expected].sort());
  });

  it("lists exactly the variables the agent reads", () => {
    const { agent } = readmeVariables();
    expect([...agent].sort()).toEqual([...agentVariables()].sort());
  });

  it("names no SRVUTIL_ variable anywhere in src/ that neither table row nor schema knows", () => {
    const { central, agent } = readmeVariables();
    const known = new Set([...central, ...agent, ...THRESHOLD_ENV_VARIABLES]);
    const unknown = new Set<string>();
    for (const file of readdirRecursive(path.join(ROOT, "src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/\bSRVUTIL_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        // SRVUTIL_E_… are error codes (errorCode in src/errors.ts), not settings.
        if (m[0].startsWith("SRVUTIL_E_")) continue;
        if (!known.has(m[0])) unknown.add(`${m[0]} (${path.relative(ROOT, file)})`);
      }
    }
    expect([...unknown]).toEqual([]);
  });
});

function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.join(e.parentPath, e.name));
}
