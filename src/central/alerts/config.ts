/**
 * The alerts of `central serve`, from the JSON file named by
 * SRVUTIL_ALERTS_CONFIG (docs/alerts.md):
 *
 *   {"evaluate_seconds": 60,
 *    "channels": [{"name": "ops-am", "type": "alertmanager", "url": "http://127.0.0.1:9093"},
 *                 {"name": "ops-mail", "type": "email", "to": ["ops@example.com"]}],
 *    "routes": [{"group": "db", "min_severity": "critical", "channels": ["ops-mail"]}],
 *    "rules": {"server_silent": {"after_minutes": 60}, "cpu_pressure": {"enabled": false}}}
 *
 * Read once at start, like SRVUTIL_SCRAPE_CONFIG: every mistake is reported
 * at once with its place (`channels[1].url: …`) in one ConfigError, and the
 * secrets (`url_env`/`url_file`, `secret_…`, `token_…`) are read here, so a
 * missing one stops the start instead of failing every notification later.
 */
import { z } from "zod";
import { ConfigError } from "../../errors.js";
import { isRecord, pathText, readFileValue, readJsonFile } from "../json-config.js";
import { CHANNEL_TYPES, type ChannelConfig } from "./channel-types.js";
import { ALERT_RULES, type AlertRuleName, type AlertSeverity } from "./types.js";

/** How each rule behaves, on top of the report's thresholds (SRVUTIL_REPORT_*). */
export interface AlertRuleSettings {
  server_silent: { enabled: boolean; afterMinutes: number };
  disk_full_soon: {
    enabled: boolean;
    criticalHours: number;
    warningHours: number;
    historyHours: number;
    forMinutes: number;
  };
  disk_nearly_full: { enabled: boolean; forMinutes: number };
  cpu_pressure: { enabled: boolean; sustainedMinutes: number };
  memory_pressure: { enabled: boolean; sustainedMinutes: number };
  memory_trend: { enabled: boolean; withinHours: number; historyHours: number; forMinutes: number };
}

export interface AlertRoute {
  /** A group of SRVUTIL_GROUPS_FILE; null: every server. */
  group: string | null;
  minSeverity: AlertSeverity;
  /** Only these rules; null: every rule. */
  rules: AlertRuleName[] | null;
  channels: string[];
}

export interface AlertsConfig {
  evaluateMs: number;
  channels: ChannelConfig[];
  /** Empty: every channel receives every alert of severity warning or above. */
  routes: AlertRoute[];
  rules: AlertRuleSettings;
  /** An open alert resolves once its condition has been gone this long (hysteresis in time). */
  resolveAfterMs: number;
  /** Percent rules resolve only this many points below their threshold (hysteresis in level). */
  hysteresisPercent: number;
  /** A firing alert nobody acknowledged is notified again this often; 0: never. */
  reminderMs: number;
  /** More notices than this in one message to one channel are summarised. */
  stormThreshold: number;
  /** A notification is retried with backoff until this long after it was queued, then failed. */
  retryForMs: number;
}

export const DEFAULT_EVALUATE_SECONDS = 60;
export const MAX_CHANNELS = 100;
export const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;

const nonEmpty = z.string().min(1, "must not be empty");
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const email = z.string().regex(/^[^\s@<>,]+@[^\s@<>,]+$/, "expected an email address like ops@example.com");
const severity = z.enum(["warning", "critical"]);
const minutes = (def: number) =>
  z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(def);
const hours = (def: number) =>
  z
    .number()
    .positive()
    .max(24 * 90)
    .default(def);
const enabled = z.boolean().default(true);

const ChannelSchema = z
  .object({
    name: z.string().regex(NAME, "a channel name is letters, digits, . _ - (up to 64)"),
    type: z.enum(CHANNEL_TYPES),
    url: nonEmpty.optional(),
    url_env: nonEmpty.optional(),
    url_file: nonEmpty.optional(),
    to: z.array(email).max(100).optional(),
    secret: nonEmpty.optional(),
    secret_env: nonEmpty.optional(),
    secret_file: nonEmpty.optional(),
    token_env: nonEmpty.optional(),
    token_file: nonEmpty.optional(),
    tags: z
      .array(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "a tag is letters, digits, _ - (up to 32)"))
      .max(10)
      .optional(),
    timeout_ms: z.number().int().min(100).max(120_000).default(DEFAULT_CHANNEL_TIMEOUT_MS),
  })
  .strict()
  .superRefine((c, ctx) => {
    const urlWays = [c.url, c.url_env, c.url_file].filter((w) => w !== undefined).length;
    if (c.type === "email") {
      if (urlWays > 0) ctx.addIssue({ code: "custom", message: "an email channel takes `to`, not a URL" });
      if (c.to === undefined || c.to.length === 0)
        ctx.addIssue({
          code: "custom",
          path: ["to"],
          message: "an email channel needs at least one address",
        });
    } else {
      if (urlWays !== 1)
        ctx.addIssue({ code: "custom", message: "give exactly one of url, url_env and url_file" });
      if (c.to !== undefined)
        ctx.addIssue({ code: "custom", path: ["to"], message: "is for email channels only" });
    }
    const secretWays = [c.secret, c.secret_env, c.secret_file].filter((w) => w !== undefined).length;
    if (secretWays > 0 && c.type !== "webhook")
      ctx.addIssue({
        code: "custom",
        message: "secret, secret_env and secret_file are for webhook channels only",
      });
    if (secretWays > 1)
      ctx.addIssue({ code: "custom", message: "give at most one of secret, secret_env and secret_file" });
    const tokenWays = [c.token_env, c.token_file].filter((w) => w !== undefined).length;
    if (tokenWays > 0 && c.type !== "ntfy")
      ctx.addIssue({ code: "custom", message: "token_env and token_file are for ntfy channels only" });
    if (tokenWays > 1)
      ctx.addIssue({ code: "custom", message: "give at most one of token_env and token_file" });
    if (c.tags !== undefined && c.type !== "ntfy")
      ctx.addIssue({ code: "custom", path: ["tags"], message: "is for ntfy channels only" });
  });

const RouteSchema = z
  .object({
    group: z.string().regex(NAME, "a group name is letters, digits, . _ -").optional(),
    min_severity: severity.default("warning"),
    rules: z.array(z.enum(ALERT_RULES)).min(1).optional(),
    channels: z.array(nonEmpty).min(1, "a route needs at least one channel"),
  })
  .strict();

const RulesSchema = z
  .object({
    server_silent: z
      .object({ enabled, after_minutes: minutes(60) })
      .strict()
      .prefault({}),
    disk_full_soon: z
      .object({
        enabled,
        critical_hours: hours(24),
        warning_hours: hours(7 * 24),
        history_hours: z
          .number()
          .int()
          .min(6)
          .max(24 * 14)
          .default(48),
        for_minutes: z
          .number()
          .min(0)
          .max(24 * 60)
          .default(10),
      })
      .strict()
      .superRefine((r, ctx) => {
        if (r.warning_hours < r.critical_hours)
          ctx.addIssue({
            code: "custom",
            path: ["warning_hours"],
            message: "must not be below critical_hours",
          });
      })
      .prefault({}),
    disk_nearly_full: z
      .object({
        enabled,
        for_minutes: z
          .number()
          .min(0)
          .max(24 * 60)
          .default(5),
      })
      .strict()
      .prefault({}),
    cpu_pressure: z
      .object({ enabled, sustained_minutes: minutes(60) })
      .strict()
      .prefault({}),
    memory_pressure: z
      .object({ enabled, sustained_minutes: minutes(30) })
      .strict()
      .prefault({}),
    memory_trend: z
      .object({
        enabled,
        within_hours: hours(24),
        // The report's trend needs trend_min_hours (48) hourly points: 72 hours leave room for gaps.
        history_hours: z
          .number()
          .int()
          .min(6)
          .max(24 * 14)
          .default(72),
        for_minutes: z
          .number()
          .min(0)
          .max(24 * 60)
          .default(30),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

const FileSchema = z
  .object({
    evaluate_seconds: z.number().int().min(1).max(3600).default(DEFAULT_EVALUATE_SECONDS),
    channels: z.array(ChannelSchema).max(MAX_CHANNELS).default([]),
    routes: z.array(RouteSchema).max(1000).default([]),
    rules: RulesSchema,
    resolve_after_minutes: z
      .number()
      .min(0)
      .max(24 * 60)
      .default(10),
    hysteresis_percent: z.number().min(0).max(20).default(3),
    reminder_hours: z
      .number()
      .min(0)
      .max(24 * 30)
      .default(24),
    storm_threshold: z.number().int().min(1).max(10_000).default(10),
    retry_hours: z
      .number()
      .positive()
      .max(24 * 7)
      .default(6),
  })
  .strict();

/**
 * Channel names that repeat, and routes naming no channel of the file,
 * checked on the raw JSON so they are reported with every other mistake
 * (zod skips a file-wide refinement once a field is wrong).
 */
function crossProblems(json: unknown): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const channels = isRecord(json) && Array.isArray(json.channels) ? json.channels.slice(0, MAX_CHANNELS) : [];
  channels.forEach((c: unknown, i) => {
    if (!isRecord(c) || typeof c.name !== "string") return;
    const first = seen.get(c.name);
    if (first !== undefined)
      problems.push(`channels[${i}].name: '${c.name}' is already the name of channels[${first}]`);
    else seen.set(c.name, i);
  });
  const routes = isRecord(json) && Array.isArray(json.routes) ? json.routes.slice(0, 1000) : [];
  routes.forEach((r: unknown, i) => {
    if (!isRecord(r) || !Array.isArray(r.channels)) return;
    r.channels.forEach((name: unknown, j) => {
      if (typeof name === "string" && name !== "" && !seen.has(name))
        problems.push(`routes[${i}].channels[${j}]: '${name}' is not a channel of this file`);
    });
  });
  return problems;
}

/**
 * The secrets the raw JSON names, read by their place
 * (`channels[0].url_file`), whether or not the rest is valid, so one start
 * reports a missing file or variable next to a bad key.
 */
function readSecrets(json: unknown, env: NodeJS.ProcessEnv, problems: string[]): Map<string, string> {
  const values = new Map<string, string>();
  const channels = isRecord(json) && Array.isArray(json.channels) ? json.channels.slice(0, MAX_CHANNELS) : [];
  channels.forEach((c: unknown, i) => {
    if (!isRecord(c)) return;
    for (const what of ["url", "secret", "token"]) {
      const file = c[`${what}_file`];
      const where = `channels[${i}].${what}`;
      if (typeof file === "string" && file !== "")
        values.set(where, readFileValue(file, `${where}_file`, problems, true));
      const name = c[`${what}_env`];
      if (typeof name === "string" && name !== "") {
        const value = env[name];
        if (value === undefined || value === "") problems.push(`${where}_env: ${name} is not set`);
        else values.set(where, value);
      }
    }
  });
  return values;
}

function urlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL (e.g. https://hooks.slack.com/services/…)";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be an http:// or https:// URL";
  return null;
}

/** Validates the file's parsed JSON. Throws one ConfigError naming every mistake. */
export function alertsConfigFromJson(json: unknown, source: string, env: NodeJS.ProcessEnv): AlertsConfig {
  const secretProblems: string[] = [];
  const secrets = readSecrets(json, env, secretProblems);
  const parsed = FileSchema.safeParse(json);
  const problems = (parsed.success ? [] : parsed.error.issues).map((issue) => {
    const where = pathText(issue.path);
    return where === "" ? issue.message : `${where}: ${issue.message}`;
  });
  const channels: ChannelConfig[] = [];
  if (parsed.success) {
    parsed.data.channels.forEach((c, i) => {
      const url = c.url ?? secrets.get(`channels[${i}].url`) ?? null;
      // The place names the key the URL came from, never the URL: it may hold a secret.
      const problem = url === null || c.type === "email" ? null : urlProblem(url);
      if (problem !== null)
        problems.push(
          `channels[${i}].${c.url !== undefined ? "url" : c.url_env !== undefined ? "url_env" : "url_file"}: ${problem}`,
        );
      channels.push({
        name: c.name,
        type: c.type,
        url: c.type === "email" ? null : url,
        to: c.to ?? [],
        secret: c.secret ?? secrets.get(`channels[${i}].secret`) ?? null,
        token: secrets.get(`channels[${i}].token`) ?? null,
        tags: c.tags ?? [],
        timeoutMs: c.timeout_ms,
      });
    });
  }
  problems.push(...crossProblems(json), ...secretProblems);
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(`SRVUTIL_ALERTS_CONFIG (${source}): ${problems.join("; ")}`);
  }
  const f = parsed.data;
  const r = f.rules;
  return {
    evaluateMs: f.evaluate_seconds * 1000,
    channels,
    routes: f.routes.map((route) => ({
      group: route.group ?? null,
      minSeverity: route.min_severity,
      rules: route.rules ?? null,
      channels: route.channels,
    })),
    rules: {
      server_silent: { enabled: r.server_silent.enabled, afterMinutes: r.server_silent.after_minutes },
      disk_full_soon: {
        enabled: r.disk_full_soon.enabled,
        criticalHours: r.disk_full_soon.critical_hours,
        warningHours: r.disk_full_soon.warning_hours,
        historyHours: r.disk_full_soon.history_hours,
        forMinutes: r.disk_full_soon.for_minutes,
      },
      disk_nearly_full: { enabled: r.disk_nearly_full.enabled, forMinutes: r.disk_nearly_full.for_minutes },
      cpu_pressure: { enabled: r.cpu_pressure.enabled, sustainedMinutes: r.cpu_pressure.sustained_minutes },
      memory_pressure: {
        enabled: r.memory_pressure.enabled,
        sustainedMinutes: r.memory_pressure.sustained_minutes,
      },
      memory_trend: {
        enabled: r.memory_trend.enabled,
        withinHours: r.memory_trend.within_hours,
        historyHours: r.memory_trend.history_hours,
        forMinutes: r.memory_trend.for_minutes,
      },
    },
    resolveAfterMs: f.resolve_after_minutes * 60_000,
    hysteresisPercent: f.hysteresis_percent,
    reminderMs: f.reminder_hours * 3_600_000,
    stormThreshold: f.storm_threshold,
    retryForMs: f.retry_hours * 3_600_000,
  };
}

/** The defaults alone: no channel, so alerts are evaluated and shown but sent nowhere. */
export function defaultAlertsConfig(): AlertsConfig {
  return alertsConfigFromJson({}, "defaults", {});
}

/** Reads and validates the file SRVUTIL_ALERTS_CONFIG names. */
export function loadAlertsConfig(file: string, env: NodeJS.ProcessEnv): AlertsConfig {
  return alertsConfigFromJson(readJsonFile("SRVUTIL_ALERTS_CONFIG", file), file, env);
}

/** Routes that name a group the groups file does not define (checked at start, with the groups). */
export function checkRouteGroups(config: AlertsConfig, groupNames: readonly string[], source: string): void {
  const known = new Set(groupNames);
  const problems = config.routes.flatMap((route, i) =>
    route.group !== null && !known.has(route.group)
      ? [
          `routes[${i}].group: '${route.group}' is not a group of SRVUTIL_GROUPS_FILE (${[...known].join(", ") || "none"})`,
        ]
      : [],
  );
  if (problems.length > 0) throw new ConfigError(`SRVUTIL_ALERTS_CONFIG (${source}): ${problems.join("; ")}`);
}
