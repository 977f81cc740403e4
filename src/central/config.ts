import path from "node:path";
import { z } from "zod";

/** A configuration value that is missing or malformed; the message names the setting. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

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

const CentralEnv = z.object({
  SRVUTIL_DATA_DIR: z.string().min(1).default("./data"),
  SRVUTIL_LISTEN: listen.prefault("127.0.0.1:8080"),
  SRVUTIL_DB_URL: z.string().min(1).optional(),
  SRVUTIL_REPORT_TZ: timeZone.default("UTC"),
  SRVUTIL_SMTP_URL: smtpUrl.optional(),
  SRVUTIL_MAIL_FROM: z.string().min(3).default("srvutil <srvutil@localhost>"),
  SRVUTIL_REPORT_TO: emailList.default([]),
  SRVUTIL_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
  SRVUTIL_MAX_FUTURE_SKEW_SECONDS: z.coerce.number().int().nonnegative().default(86_400),
  SRVUTIL_PUBLIC_URL: z
    .string()
    .regex(
      /^https?:\/\/[^\s/]+(\/[^\s]*)?$/,
      "expected the dashboard's base URL, e.g. https://srvutil.example.com",
    )
    .optional(),
  SRVUTIL_DIGEST_TOP_N: z.coerce.number().int().min(1).max(200).default(15),
  SRVUTIL_DIGEST_MAX_CHARTS: z.coerce.number().int().min(0).max(30).default(6),
  SRVUTIL_ATTACHMENT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(10_000)
    .default(1024 * 1024),
  SRVUTIL_TLS_CERT: z.string().min(1).optional(),
  SRVUTIL_TLS_KEY: z.string().min(1).optional(),
});

export interface CentralConfig {
  dataDir: string;
  listen: { host: string; port: number };
  /** `sqlite:/abs/path.db` or `postgres://…`. */
  dbUrl: string;
  reportTimeZone: string;
  smtpUrl: string | null;
  mailFrom: string;
  reportTo: string[];
  maxBodyBytes: number;
  maxFutureSkewMs: number;
  tls: { certFile: string; keyFile: string } | null;
  paths: CentralPaths;
  /** How the weekly email is shaped (docs/report.md, "The email digest"). */
  digest: DigestSettings;
}

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

/** Reads and validates the central configuration from the environment. */
export function loadCentralConfig(env: NodeJS.ProcessEnv = process.env): CentralConfig {
  const parsed = CentralEnv.safeParse(stripEmpty(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? "configuration");
    throw new ConfigError(`${key}: ${issue.message}`);
  }
  const e = parsed.data;
  if ((e.SRVUTIL_TLS_CERT === undefined) !== (e.SRVUTIL_TLS_KEY === undefined)) {
    throw new ConfigError("SRVUTIL_TLS_CERT and SRVUTIL_TLS_KEY must be set together");
  }
  const dataDir = path.resolve(e.SRVUTIL_DATA_DIR);
  return {
    dataDir,
    listen: e.SRVUTIL_LISTEN,
    dbUrl: e.SRVUTIL_DB_URL ?? `sqlite:${path.join(dataDir, "srvutil.db")}`,
    reportTimeZone: e.SRVUTIL_REPORT_TZ,
    smtpUrl: e.SRVUTIL_SMTP_URL ?? null,
    mailFrom: e.SRVUTIL_MAIL_FROM,
    reportTo: e.SRVUTIL_REPORT_TO,
    maxBodyBytes: e.SRVUTIL_MAX_BODY_BYTES,
    maxFutureSkewMs: e.SRVUTIL_MAX_FUTURE_SKEW_SECONDS * 1000,
    tls:
      e.SRVUTIL_TLS_CERT !== undefined && e.SRVUTIL_TLS_KEY !== undefined
        ? { certFile: e.SRVUTIL_TLS_CERT, keyFile: e.SRVUTIL_TLS_KEY }
        : null,
    paths: centralPaths(dataDir),
    digest: {
      publicUrl: e.SRVUTIL_PUBLIC_URL ?? null,
      topN: e.SRVUTIL_DIGEST_TOP_N,
      maxChartServers: e.SRVUTIL_DIGEST_MAX_CHARTS,
      attachmentMaxBytes: e.SRVUTIL_ATTACHMENT_MAX_BYTES,
    },
  };
}

/** Empty variables count as unset, as shells and compose files tend to produce them. */
function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") out[k] = v;
  return out;
}
