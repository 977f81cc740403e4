import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import { nearestName } from "../nearest-name.js";
import { parseNetworkList } from "./auth/networks.js";
import { DEFAULT_LOG_ROTATION, type LogRotation } from "./automation-log.js";
import { DEFAULT_REPORT_CRON, type DeliverySettings, validateCron } from "./delivery/settings.js";
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from "./http/timeouts.js";
import { DEFAULT_SEED_NETWORKS } from "./ingest/seed/networks.js";
import { DEFAULT_SMTP_OPTIONS, type SmtpOptions } from "./mail/settings.js";
import { checkOidcTogether, OIDC_ENV_SHAPE, oidcSettings } from "./oidc-config.js";
import { DEFAULT_THRESHOLDS } from "./report/thresholds.js";
import type { ReportThresholds } from "./report/types.js";
import { DEFAULT_RETENTION, type RetentionSettings } from "./retention.js";
import type { SqliteSynchronous } from "./storage/open.js";
import type { RawStoreSetting } from "./storage/raw-upload-store.js";

export type { OidcSettings } from "./oidc-config.js";
export { ConfigError };

/**
 * The central's configuration: ONE schema for every SRVUTIL_* variable the
 * central reads. Only the entry layer (the CLI) calls loadCentralConfig with
 * process.env; library code receives the typed CentralConfig (or the part
 * of it it needs) and never reads the environment. README.md's
 * configuration table lists exactly these variables (test/central/config.test.ts).
 */

/** Adds one issue and aborts the value; the message is "expected <form>, got '<value>'". */
function refuse(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: "custom", message });
  return z.NEVER as never;
}

/** A number ≥ min (or > min when `exclusive`), decimals allowed. */
const number = (min: number, form: string, exclusive = false) =>
  z.string().transform((raw, ctx) => {
    const v = Number(raw.trim());
    if (!Number.isFinite(v) || v < min || (exclusive && v === min)) {
      return refuse(ctx, `expected ${form}, got '${raw}'`);
    }
    return v;
  });

/** A whole number from min to max. */
const whole = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().transform((raw, ctx) => {
    const v = Number(raw.trim());
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `${min}-${max}`;
      return refuse(ctx, `expected a whole number ${range}, got '${raw}'`);
    }
    return v;
  });

const bool = z.string().transform((raw, ctx) => {
  if (/^(true|1|yes|on)$/i.test(raw.trim())) return true;
  if (/^(false|0|no|off)$/i.test(raw.trim())) return false;
  return refuse(ctx, `expected true or false, got '${raw}'`);
});

const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected HOST:PORT, e.g. 127.0.0.1:8080")
  .transform((v) => {
    const i = v.lastIndexOf(":");
    return { host: v.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(v.slice(i + 1)) };
  })
  .refine((v) => v.port >= 0 && v.port <= 65535, "port must be 0-65535");

const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, "expected an IANA time zone name such as Europe/Berlin");

const smtpUrl = z
  .string()
  .refine((v) => /^smtps?:\/\/[^/]+/.test(v), "expected smtp://user:pass@host:port or smtps://…");

const emailList = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  )
  .pipe(z.array(z.string().regex(/^[^\s@]+@[^\s@]+$/, "expected a comma-separated list of email addresses")));

/** SRVUTIL_REPORT_CRON: a cron expression, or off/none/disabled (→ null). */
const reportCron = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  if (/^(off|none|disabled)$/i.test(v)) return null;
  try {
    validateCron(v);
  } catch (err) {
    return refuse(ctx, (err as Error).message.replace(/^SRVUTIL_REPORT_CRON: /, ""));
  }
  return v;
});

const sqliteSynchronous = z.string().transform((raw, ctx): SqliteSynchronous => {
  const v = raw.trim().toUpperCase();
  if (v === "NORMAL" || v === "FULL") return v;
  return refuse(ctx, `expected NORMAL or FULL, got '${raw}'`);
});

const rawStore = z.string().transform((raw, ctx): RawStoreSetting => {
  const v = raw.trim().toLowerCase();
  if (v === "auto" || v === "files" || v === "database") return v;
  return refuse(ctx, `expected auto, files or database, got '${raw}'`);
});

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const logLevel = z.string().transform((raw, ctx) => {
  const v = raw.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as (typeof LOG_LEVELS)[number];
  return refuse(ctx, `expected one of ${LOG_LEVELS.join(", ")}, got '${raw}'`);
});

const seconds = number(0, "a positive number of seconds", true);

/** A retention (whole days or months, ≥ 1), or keep/off/forever (→ null: never pruned). */
const retentionDays = z.string().transform((raw, ctx): number | null => {
  const v = raw.trim();
  if (/^(keep|off|forever)$/i.test(v)) return null;
  const n = Number(v);
  if (Number.isSafeInteger(n) && n >= 1) return n;
  return refuse(ctx, `expected a whole number ≥ 1, or keep, got '${raw}'`);
});

/** SRVUTIL_REPORT_<THRESHOLD>: one variable per report threshold (docs/report.md). */
const THRESHOLD_KEYS = Object.keys(DEFAULT_THRESHOLDS) as (keyof ReportThresholds)[];
export const thresholdVariable = (key: keyof ReportThresholds): string =>
  `SRVUTIL_REPORT_${key.toUpperCase()}`;
const thresholdShape = Object.fromEntries(
  THRESHOLD_KEYS.map((k) => [thresholdVariable(k), number(0, "a non-negative number").optional()]),
);

const onOff = z.enum(["on", "off"], { error: "expected on or off" });

const networkList = z.string().transform((v, ctx) => {
  try {
    return parseNetworkList(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

/** A label, attribute or tag name an input takes the server name from (docs/integrations.md). */
const labelName = z
  .string()
  .transform((v) => v.trim())
  .pipe(
    z
      .string()
      .regex(
        /^[A-Za-z_][A-Za-z0-9_.]{0,127}$/,
        "expected a label name: a letter or _, then letters, digits, _ and .",
      ),
  );

/** SRVUTIL_TRUSTED_PROXIES: addresses or CIDR networks, `none` for the empty list. */
const proxyList = z.string().transform((v, ctx) => {
  if (/^\s*none\s*$/i.test(v)) return [];
  try {
    return parseNetworkList(v, { bareAddresses: true });
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

export interface DigestSettings {
  /** Dashboard base URL for links, null when unset. */
  publicUrl: string | null;
  /** Servers in each heatmap of the digest. */
  topN: number;
  /** Servers needing action that get charts in the digest. */
  maxChartServers: number;
  /** Largest attachment (each of HTML, JSON, CSV), bytes before base64. */
  attachmentMaxBytes: number;
}

export const DEFAULT_DIGEST_SETTINGS: Readonly<DigestSettings> = Object.freeze({
  publicUrl: null,
  topN: 15,
  maxChartServers: 6,
  attachmentMaxBytes: 1024 * 1024,
});

const CentralEnv = z.object({
  SRVUTIL_DATA_DIR: z.string().min(1).default("./data"),
  SRVUTIL_LISTEN: listen.prefault("127.0.0.1:8080"),
  SRVUTIL_DB_URL: z.string().min(1).optional(),
  SRVUTIL_DB_URL_FILE: z.string().optional(),
  // Email digest
  SRVUTIL_PUBLIC_URL: z
    .string()
    .transform((raw, ctx) => {
      const v = raw.trim();
      if (/^https?:\/\/[^\s/]+(\/\S*)?$/.test(v)) return v;
      return refuse(ctx, `expected the dashboard's base URL, e.g. https://srvutil.example.com, got '${raw}'`);
    })
    .optional(),
  SRVUTIL_DIGEST_TOP_N: whole(1, 200).prefault(String(DEFAULT_DIGEST_SETTINGS.topN)),
  SRVUTIL_DIGEST_MAX_CHARTS: whole(0, 30).prefault(String(DEFAULT_DIGEST_SETTINGS.maxChartServers)),
  SRVUTIL_ATTACHMENT_MAX_BYTES: whole(10_000).prefault(String(DEFAULT_DIGEST_SETTINGS.attachmentMaxBytes)),
  SRVUTIL_TLS_CERT: z.string().min(1).optional(),
  SRVUTIL_TLS_KEY: z.string().min(1).optional(),
  SRVUTIL_LOG_LEVEL: logLevel.prefault("warn"),
  SRVUTIL_LOG_MAX_BYTES: whole(0).prefault(String(DEFAULT_LOG_ROTATION.maxBytes)),
  SRVUTIL_LOG_MAX_FILES: whole(1).prefault(String(DEFAULT_LOG_ROTATION.maxFiles)),
  SRVUTIL_LOG_ROTATE_DAILY: bool.prefault(String(DEFAULT_LOG_ROTATION.daily)),
  // Ingest
  SRVUTIL_MAX_BODY_BYTES: whole(1).prefault(String(16 * 1024 * 1024)),
  SRVUTIL_MAX_ROWS_PER_FILE: whole(1).prefault("200000"),
  SRVUTIL_MAX_FUTURE_SKEW_SECONDS: whole(0).prefault("86400"),
  SRVUTIL_MAX_MOUNTS_PER_SAMPLE: whole(1).prefault("64"),
  SRVUTIL_MAX_MOUNTS_PER_SERVER: whole(1).prefault("256"),
  SRVUTIL_PARSE_WORKERS: whole(0, 64).prefault("2"),
  SRVUTIL_RATE_LIMIT_PER_SECOND: number(0, "a number ≥ 0").prefault("5"),
  SRVUTIL_RATE_LIMIT_BURST: number(0, "a number ≥ 0").prefault("60"),
  SRVUTIL_AUTH_FAILURES_PER_MINUTE: whole(0).prefault("30"),
  // HTTP server
  SRVUTIL_TRUSTED_PROXIES: proxyList.prefault("none"),
  SRVUTIL_HEADERS_TIMEOUT_SECONDS: seconds.prefault(String(DEFAULT_HTTP_TIMEOUTS.headersMs / 1000)),
  SRVUTIL_REQUEST_TIMEOUT_SECONDS: seconds.prefault(String(DEFAULT_HTTP_TIMEOUTS.requestMs / 1000)),
  SRVUTIL_BODY_IDLE_TIMEOUT_SECONDS: seconds.prefault(String(DEFAULT_HTTP_TIMEOUTS.bodyIdleMs / 1000)),
  SRVUTIL_SQLITE_SYNCHRONOUS: sqliteSynchronous.prefault("NORMAL"),
  SRVUTIL_RAW_STORE: rawStore.prefault("auto"),
  // Retention
  SRVUTIL_RETENTION_RAW_DAYS: retentionDays.prefault(String(DEFAULT_RETENTION.rawDays)),
  SRVUTIL_RETENTION_RECEIVED_METRICS_DAYS: retentionDays.prefault(
    DEFAULT_RETENTION.receivedMetricsDays === null ? "keep" : String(DEFAULT_RETENTION.receivedMetricsDays),
  ),
  SRVUTIL_RETENTION_HOURLY_MONTHS: retentionDays.prefault(String(DEFAULT_RETENTION.hourlyMonths)),
  // Report and delivery
  SRVUTIL_REPORT_TZ: timeZone.default("UTC"),
  SRVUTIL_REPORT_TO: emailList.default([]),
  SRVUTIL_REPORT_CRON: reportCron.prefault(DEFAULT_REPORT_CRON),
  SRVUTIL_GROUPS_FILE: z
    .string()
    .transform((v) => v.trim())
    .optional(),
  // Agent self-update (docs/agent.md, "Self-update")
  SRVUTIL_AGENT_AUTO_UPDATE: bool.prefault("off"),
  SRVUTIL_AGENT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS: seconds.prefault("60"),
  SRVUTIL_DELIVERY_RETRY_MAX_SECONDS: seconds.prefault("3600"),
  SRVUTIL_DELIVERY_RETRY_HOURS: number(0, "a positive number of hours", true).prefault("12"),
  SRVUTIL_DELIVERY_POLL_SECONDS: seconds.prefault("30"),
  SRVUTIL_DELIVERY_LEASE_SECONDS: seconds.prefault("300"),
  // Mail
  SRVUTIL_SMTP_URL: smtpUrl.optional(),
  SRVUTIL_SMTP_URL_FILE: z.string().optional(),
  SRVUTIL_SMTP_PASSWORD: z.string().optional(),
  SRVUTIL_SMTP_PASSWORD_FILE: z.string().optional(),
  SRVUTIL_MAIL_FROM: z.string().min(3).default("srvutil <srvutil@localhost>"),
  SRVUTIL_SMTP_CA_FILE: z.string().optional(),
  SRVUTIL_SMTP_REQUIRE_TLS: bool.prefault(String(DEFAULT_SMTP_OPTIONS.requireTls)),
  SRVUTIL_SMTP_ALLOW_SELF_SIGNED: bool.prefault(String(DEFAULT_SMTP_OPTIONS.allowSelfSigned)),
  SRVUTIL_SMTP_POOL: bool.prefault(String(DEFAULT_SMTP_OPTIONS.pool)),
  SRVUTIL_SMTP_MAX_CONNECTIONS: whole(1).prefault(String(DEFAULT_SMTP_OPTIONS.maxConnections)),
  SRVUTIL_SMTP_TIMEOUT_SECONDS: whole(1).prefault(String(DEFAULT_SMTP_OPTIONS.timeoutMs / 1000)),
  ...thresholdShape,
  SRVUTIL_SEED_COMPAT: onOff.default("off"),
  // Foreign inputs (docs/integrations.md)
  SRVUTIL_SCRAPE_CONFIG: z
    .string()
    .transform((v) => v.trim())
    .optional(),
  SRVUTIL_PROMETHEUS_SERVER_LABEL: labelName.prefault("instance"),
  // Alerts between Mondays (docs/alerts.md)
  SRVUTIL_ALERTS_CONFIG: z
    .string()
    .transform((v) => v.trim())
    .optional(),
  SRVUTIL_OTLP_SERVER_ATTRIBUTE: labelName.prefault("host.name"),
  SRVUTIL_TELEGRAF_SERVER_TAG: labelName.prefault("host"),
  SRVUTIL_SEED_COMPAT_NETWORKS: networkList.prefault(DEFAULT_SEED_NETWORKS.join(",")),
  ...OIDC_ENV_SHAPE,
});

/** Every variable of the schema except the SRVUTIL_REPORT_<THRESHOLD> family. */
export const CENTRAL_ENV_VARIABLES: readonly string[] = Object.keys(CentralEnv.shape).filter(
  (k) => !(k in thresholdShape),
);
/** The SRVUTIL_REPORT_<THRESHOLD> variables, one per key of DEFAULT_THRESHOLDS. */
export const THRESHOLD_ENV_VARIABLES: readonly string[] = Object.keys(thresholdShape);

/**
 * SRVUTIL_* names in the central's environment that are not its settings but
 * are read by someone else: the agent (which may run on the same host), the
 * tests and the benchmarks. They are never warned about.
 */
const OTHER_READERS = ["SRVUTIL_CENTRAL_URL", "SRVUTIL_SERVER_NAME"];
const OTHER_READER_PREFIXES = ["SRVUTIL_AGENT_", "SRVUTIL_TEST_", "SRVUTIL_BENCH_"];

/** Words operators write for a setting's own short name. */
const SYNONYMS: readonly [RegExp, string][] = [[/TIME_?ZONE/, "TZ"]];

/**
 * One warning per SRVUTIL_* variable that no part of srvutil reads, with the
 * nearest setting's name when one is close (as the agent's config file
 * does): a misspelled setting would otherwise be ignored without a word and
 * its default used. Warnings, not errors: an extra variable breaks nothing.
 */
export function unknownVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = Object.keys(CentralEnv.shape);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith("SRVUTIL_") || env[name] === undefined) continue;
    if (known.includes(name) || OTHER_READERS.includes(name)) continue;
    if (OTHER_READER_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    let typed = name;
    for (const [pattern, short] of SYNONYMS) typed = typed.replace(pattern, short);
    // Compared without the common SRVUTIL_, which would make any two names look alike; a
    // tight bound, so an SMTP_HOST suggests nothing rather than SMTP_POOL.
    const nearest = nearestName(
      typed.slice("SRVUTIL_".length),
      known.map((k) => k.slice("SRVUTIL_".length)),
      (length) => Math.max(1, Math.floor(length / 4)),
    );
    warnings.push(
      `${name} is not a srvutil setting and is ignored${nearest === null ? "" : ` (did you mean SRVUTIL_${nearest}?)`}`,
    );
  }
  return warnings;
}

export interface CentralPaths {
  receivedMetrics: string;
  logs: string;
  automationLog: string;
  reports: string;
  outbox: string;
}

export function centralPaths(dataDir: string): CentralPaths {
  const logs = path.join(dataDir, "Logs");
  return {
    receivedMetrics: path.join(dataDir, "received_metrics"),
    logs,
    automationLog: path.join(logs, "automation.log"),
    reports: path.join(dataDir, "reports"),
    outbox: path.join(dataDir, "outbox"),
  };
}

/**
 * Settings that constrain each other, checked together. They run even when
 * a single setting failed its own form (every mistake is reported at once),
 * so each check looks only at values that parsed. An issue without a path
 * is printed as it is; one with a path is prefixed with its variable.
 */
function checkTogether(e: z.output<typeof CentralEnv>, ctx: z.RefinementCtx): void {
  const problem = (message: string, variable?: string) =>
    ctx.addIssue({ code: "custom", message, path: variable === undefined ? [] : [variable] });
  const isNumber = (...v: unknown[]) => v.every((x) => typeof x === "number");
  if ((e.SRVUTIL_TLS_CERT === undefined) !== (e.SRVUTIL_TLS_KEY === undefined)) {
    problem("SRVUTIL_TLS_CERT and SRVUTIL_TLS_KEY must be set together");
  }
  if (
    isNumber(e.SRVUTIL_RATE_LIMIT_PER_SECOND, e.SRVUTIL_RATE_LIMIT_BURST) &&
    e.SRVUTIL_RATE_LIMIT_PER_SECOND > 0 &&
    e.SRVUTIL_RATE_LIMIT_BURST < 1
  ) {
    problem("must be at least 1 while the rate limit is on", "SRVUTIL_RATE_LIMIT_BURST");
  }
  if (
    isNumber(e.SRVUTIL_HEADERS_TIMEOUT_SECONDS, e.SRVUTIL_REQUEST_TIMEOUT_SECONDS) &&
    e.SRVUTIL_HEADERS_TIMEOUT_SECONDS > e.SRVUTIL_REQUEST_TIMEOUT_SECONDS
  ) {
    problem(
      "SRVUTIL_HEADERS_TIMEOUT_SECONDS must be <= SRVUTIL_REQUEST_TIMEOUT_SECONDS (the request includes its headers)",
    );
  }
  if (
    isNumber(e.SRVUTIL_DELIVERY_RETRY_MAX_SECONDS, e.SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS) &&
    e.SRVUTIL_DELIVERY_RETRY_MAX_SECONDS < e.SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS
  ) {
    problem("SRVUTIL_DELIVERY_RETRY_MAX_SECONDS must be >= SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS");
  }
  checkOidcTogether(e, problem);
  // SRVUTIL_SMTP_PASSWORD goes into the URL (smtpUrlWithPassword), which must have a user and no password.
  if (typeof e.SRVUTIL_SMTP_PASSWORD === "string") {
    const url = e.SRVUTIL_SMTP_URL;
    let u: URL | null = null;
    try {
      u = typeof url === "string" ? new URL(url) : null;
    } catch {
      problem("expected smtp://user@host:port when SRVUTIL_SMTP_PASSWORD is set", "SRVUTIL_SMTP_URL");
    }
    if (url === undefined) {
      problem("must be set together with SRVUTIL_SMTP_URL (smtp://user@host:587)", "SRVUTIL_SMTP_PASSWORD");
    } else if (u !== null && u.username === "") {
      problem(
        "SRVUTIL_SMTP_URL must name the user (smtp://user@host:587), it must not be set without one",
        "SRVUTIL_SMTP_PASSWORD",
      );
    } else if (u !== null && u.password !== "") {
      problem(
        "must not be set when SRVUTIL_SMTP_URL holds a password too; keep one of them",
        "SRVUTIL_SMTP_PASSWORD",
      );
    }
  }
}

/** The validated variables as the settings the rest of the central reads. */
function toCentralConfig(e: z.output<typeof CentralEnv>) {
  const thresholds: Partial<ReportThresholds> = {};
  for (const key of THRESHOLD_KEYS) {
    const v = (e as Record<string, unknown>)[thresholdVariable(key)];
    if (typeof v === "number") thresholds[key] = v;
  }
  const dataDir = path.resolve(e.SRVUTIL_DATA_DIR);
  return {
    dataDir,
    listen: e.SRVUTIL_LISTEN,
    /** `sqlite:/abs/path.db` or `postgres://…`. */
    dbUrl: e.SRVUTIL_DB_URL ?? `sqlite:${path.join(dataDir, "srvutil.db")}`,
    reportTimeZone: e.SRVUTIL_REPORT_TZ,
    smtpUrl: smtpUrlWithPassword(e.SRVUTIL_SMTP_URL, e.SRVUTIL_SMTP_PASSWORD),
    mailFrom: e.SRVUTIL_MAIL_FROM,
    reportTo: e.SRVUTIL_REPORT_TO,
    maxBodyBytes: e.SRVUTIL_MAX_BODY_BYTES,
    maxFutureSkewMs: e.SRVUTIL_MAX_FUTURE_SKEW_SECONDS * 1000,
    /** Data rows accepted in one file. */
    maxRowsPerFile: e.SRVUTIL_MAX_ROWS_PER_FILE,
    /** Distinct disk mounts accepted per sample, and per server and UTC week (ingest/mount-limits.ts). */
    mountLimits: {
      perSample: e.SRVUTIL_MAX_MOUNTS_PER_SAMPLE,
      perServerWeek: e.SRVUTIL_MAX_MOUNTS_PER_SERVER,
    },
    /** Worker threads parsing large uploads (0 = inline). */
    parseWorkers: e.SRVUTIL_PARSE_WORKERS,
    /** Per-token upload rate (and the seed bridge's per address); perSecond 0 disables it. */
    rateLimit: { perSecond: e.SRVUTIL_RATE_LIMIT_PER_SECOND, burst: e.SRVUTIL_RATE_LIMIT_BURST },
    /** Failed token authentications allowed per client address and minute (0: unlimited). */
    authFailuresPerMinute: e.SRVUTIL_AUTH_FAILURES_PER_MINUTE,
    /** Reverse proxies whose X-Forwarded-For / Forwarded is believed (CIDR list; empty: none). */
    trustedProxies: e.SRVUTIL_TRUSTED_PROXIES,
    /** How long a client may take to send a request (./http/timeouts.ts). */
    httpTimeouts: {
      headersMs: Math.round(e.SRVUTIL_HEADERS_TIMEOUT_SECONDS * 1000),
      requestMs: Math.round(e.SRVUTIL_REQUEST_TIMEOUT_SECONDS * 1000),
      bodyIdleMs: Math.round(e.SRVUTIL_BODY_IDLE_TIMEOUT_SECONDS * 1000),
    } satisfies HttpTimeouts,
    sqliteSynchronous: e.SRVUTIL_SQLITE_SYNCHRONOUS,
    /** Where raw uploads are kept: auto (database on PostgreSQL, files on SQLite), files or database. */
    rawStore: e.SRVUTIL_RAW_STORE,
    /** What the retention job prunes (../retention.ts). */
    retention: {
      rawDays: e.SRVUTIL_RETENTION_RAW_DAYS,
      receivedMetricsDays: e.SRVUTIL_RETENTION_RECEIVED_METRICS_DAYS,
      hourlyMonths: e.SRVUTIL_RETENTION_HOURLY_MONTHS,
    } satisfies RetentionSettings,
    tls:
      e.SRVUTIL_TLS_CERT !== undefined && e.SRVUTIL_TLS_KEY !== undefined
        ? { certFile: e.SRVUTIL_TLS_CERT, keyFile: e.SRVUTIL_TLS_KEY }
        : null,
    /** fastify's log level for `central serve`. */
    logLevel: e.SRVUTIL_LOG_LEVEL,
    logRotation: {
      maxBytes: e.SRVUTIL_LOG_MAX_BYTES,
      maxFiles: e.SRVUTIL_LOG_MAX_FILES,
      daily: e.SRVUTIL_LOG_ROTATE_DAILY,
    } satisfies LogRotation,
    delivery: {
      cron: e.SRVUTIL_REPORT_CRON,
      groupsFile: e.SRVUTIL_GROUPS_FILE ?? null,
      retry: {
        initialDelayMs: e.SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS * 1000,
        maxDelayMs: e.SRVUTIL_DELIVERY_RETRY_MAX_SECONDS * 1000,
        retryForMs: e.SRVUTIL_DELIVERY_RETRY_HOURS * 3_600_000,
      },
      pollMs: e.SRVUTIL_DELIVERY_POLL_SECONDS * 1000,
      leaseMs: e.SRVUTIL_DELIVERY_LEASE_SECONDS * 1000,
    } satisfies DeliverySettings,
    /** SMTP tuning beyond the URL (SRVUTIL_SMTP_*). */
    smtp: {
      caFile: e.SRVUTIL_SMTP_CA_FILE ?? null,
      requireTls: e.SRVUTIL_SMTP_REQUIRE_TLS,
      allowSelfSigned: e.SRVUTIL_SMTP_ALLOW_SELF_SIGNED,
      pool: e.SRVUTIL_SMTP_POOL,
      maxConnections: e.SRVUTIL_SMTP_MAX_CONNECTIONS,
      timeoutMs: e.SRVUTIL_SMTP_TIMEOUT_SECONDS * 1000,
    } satisfies SmtpOptions,
    /** Report threshold overrides; unset ones keep DEFAULT_THRESHOLDS. */
    thresholds,
    /** POST /upload_metrics for the seed system's agents (docs/migrating-from-the-seed.md). */
    seedCompat: { enabled: e.SRVUTIL_SEED_COMPAT === "on", networks: e.SRVUTIL_SEED_COMPAT_NETWORKS },
    /** Foreign inputs (docs/integrations.md): the scrape targets' file and where each push input finds the server name. */
    interop: {
      scrapeConfigFile: e.SRVUTIL_SCRAPE_CONFIG ?? null,
      prometheusServerLabel: e.SRVUTIL_PROMETHEUS_SERVER_LABEL,
      otlpServerAttribute: e.SRVUTIL_OTLP_SERVER_ATTRIBUTE,
      telegrafServerTag: e.SRVUTIL_TELEGRAF_SERVER_TAG,
    },
    /** Alerts (docs/alerts.md): the JSON file of channels, routes and rule settings; null: the defaults, no channel. */
    alertsConfigFile: e.SRVUTIL_ALERTS_CONFIG ?? null,
    paths: centralPaths(dataDir),
    /** Agent self-update: whether the manifest tells agents to update, and the key that signs it. */
    agentUpdates: {
      autoUpdate: e.SRVUTIL_AGENT_AUTO_UPDATE,
      signingKeyFile: path.resolve(
        e.SRVUTIL_AGENT_SIGNING_KEY_FILE ?? path.join(dataDir, "agent-signing.key"),
      ),
    },
    /** How the weekly email is shaped (docs/report.md, "The email digest"). */
    digest: {
      publicUrl: e.SRVUTIL_PUBLIC_URL ?? null,
      topN: e.SRVUTIL_DIGEST_TOP_N,
      maxChartServers: e.SRVUTIL_DIGEST_MAX_CHARTS,
      attachmentMaxBytes: e.SRVUTIL_ATTACHMENT_MAX_BYTES,
    } satisfies DigestSettings,
    /** Dashboard sign-in: OpenID Connect (null: off) and whether the password form is offered. */
    signIn: { oidc: oidcSettings(e), localLogin: e.SRVUTIL_LOCAL_LOGIN === "on" },
  };
}

/**
 * The whole central configuration in one schema: each variable's form and
 * default (CentralEnv), the checks between them, and the settings built
 * from them. Its output type is CentralConfig: nothing is written twice.
 */
const CentralConfigSchema = CentralEnv.superRefine(checkTogether, { when: () => true }).transform(
  toCentralConfig,
);

/** The central's settings, as CentralConfigSchema gives them. */
export type CentralConfig = z.output<typeof CentralConfigSchema>;

/**
 * Reads and validates the whole central configuration. Every problem is a
 * ConfigError naming the variable and the accepted form; all of them are
 * reported at once, so one start-up shows everything to fix.
 */
export function loadCentralConfig(env: Readonly<Record<string, string | undefined>>): CentralConfig {
  const { env: resolved, problems: fileProblems, fromFile } = readSecretFiles(stripEmpty(env));
  const parsed = CentralConfigSchema.safeParse(resolved);
  if (!parsed.success || fileProblems.length > 0) {
    const problems = [
      ...fileProblems,
      ...(parsed.success ? [] : parsed.error.issues).map((issue) => {
        if (issue.path.length === 0) return issue.message;
        const name = String(issue.path[0]);
        // A value read from X_FILE is reported under X_FILE: that is what the operator set.
        return `${fromFile.has(name) ? `${name}_FILE` : name}: ${issue.message}`;
      }),
    ];
    throw new ConfigError(problems.join("; "));
  }
  return parsed.data;
}

/**
 * The secrets that may come from a file instead of the environment: X_FILE
 * names a file whose content (without the trailing newline) is X. A file
 * keeps the secret out of `ps e`, shell history and unit files; systemd's
 * LoadCredential= and Docker/Kubernetes secrets mount exactly such files.
 */
export const SECRET_VARIABLES = [
  "SRVUTIL_SMTP_URL",
  "SRVUTIL_SMTP_PASSWORD",
  "SRVUTIL_DB_URL",
  "SRVUTIL_OIDC_CLIENT_SECRET",
] as const;

function readSecretFiles(env: Record<string, string>): {
  env: Record<string, string>;
  problems: string[];
  fromFile: Set<string>;
} {
  const out = { ...env };
  const problems: string[] = [];
  const fromFile = new Set<string>();
  for (const name of SECRET_VARIABLES) {
    const fileVar = `${name}_FILE`;
    const file = env[fileVar];
    if (file === undefined) continue;
    delete out[fileVar];
    if (env[name] !== undefined) {
      problems.push(`${fileVar}: must not be set together with ${name}; set one of them`);
      continue;
    }
    let content: string;
    try {
      content = readFileSync(file.trim(), "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.push(`${fileVar}: cannot read '${file}' (${why}); expected a readable file holding ${name}`);
      continue;
    }
    if (content.trim() === "") {
      problems.push(`${fileVar}: '${file}' is empty; expected a file holding ${name}`);
      continue;
    }
    out[name] = content;
    fromFile.add(name);
  }
  return { env: out, problems, fromFile };
}

/**
 * SRVUTIL_SMTP_PASSWORD goes into the URL's password, percent-encoded, so a
 * password with @ : / # needs no escaping by hand (docs/mail.md). The two
 * were checked together (checkTogether): a URL with a user and no password.
 */
function smtpUrlWithPassword(url: string | undefined, password: string | undefined): string | null {
  if (url === undefined) return null;
  if (password === undefined) return url;
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/**
 * Empty (or blank) variables count as unset, as shells and compose files tend
 * to produce them. Only SRVUTIL_* variables are looked at.
 */
function stripEmpty(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("SRVUTIL_") && v !== undefined && v.trim() !== "") out[k] = v;
  }
  return out;
}
