/**
 * The scrape targets of `central serve`, from the JSON file named by
 * SRVUTIL_SCRAPE_CONFIG (docs/integrations.md, "Scraping node_exporter and
 * windows_exporter"):
 *
 *   {"targets": [{"server": "web-01", "url": "http://10.0.0.5:9100/metrics",
 *     "interval_seconds": 60, "timeout_seconds": 10,
 *     "bearer_token" | "bearer_token_file" | "basic_auth": {"username", "password" | "password_file"},
 *     "tls_ca_file": "/etc/srvutil/exporters-ca.pem"}]}
 *
 * Read once at start. Every mistake is reported at once, each with its path
 * (`targets[2].url: …`), in one ConfigError, like the rest of the config.
 * Secrets and the CA are read from their files here, so a missing file stops
 * the start instead of failing every scrape later.
 */
import { z } from "zod";
import { ConfigError } from "../../errors.js";
import { serverNameProblem } from "../../protocol/index.js";
import { isRecord, pathText, readFileValue, readJsonFile } from "../json-config.js";

export type ScrapeAuth =
  | { kind: "bearer"; token: string }
  | { kind: "basic"; username: string; password: string };

export interface ScrapeTarget {
  server: string;
  url: string;
  intervalMs: number;
  /** Each scrape is abandoned after this (at most the interval). */
  timeoutMs: number;
  auth: ScrapeAuth | null;
  /** PEM of the CA that signed the exporter's certificate (https only), or null for the system's. */
  tlsCa: string | null;
}

export const DEFAULT_INTERVAL_SECONDS = 60;
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** Targets one file may list: each costs a timer and a connection per interval. */
export const MAX_TARGETS = 10_000;

const nonEmpty = z.string().min(1, "must not be empty");

const TargetSchema = z
  .object({
    server: z.string().superRefine((name, ctx) => {
      const problem = serverNameProblem(name);
      if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
    }),
    url: z.string().superRefine((text, ctx) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({
          code: "custom",
          message: `'${text}' is not a URL (e.g. http://10.0.0.5:9100/metrics)`,
        });
        return;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
      }
      if (url.username !== "" || url.password !== "") {
        ctx.addIssue({ code: "custom", message: "must not hold credentials: use basic_auth" });
      }
    }),
    interval_seconds: z.number().int().min(1).max(86_400).default(DEFAULT_INTERVAL_SECONDS),
    timeout_seconds: z.number().positive().max(3600).optional(),
    bearer_token: nonEmpty.optional(),
    bearer_token_file: nonEmpty.optional(),
    basic_auth: z
      .object({ username: nonEmpty, password: nonEmpty.optional(), password_file: nonEmpty.optional() })
      .strict()
      .superRefine((b, ctx) => {
        if ((b.password === undefined) === (b.password_file === undefined)) {
          ctx.addIssue({ code: "custom", message: "give exactly one of password and password_file" });
        }
      })
      .optional(),
    tls_ca_file: nonEmpty.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const ways = [t.bearer_token, t.bearer_token_file, t.basic_auth].filter((w) => w !== undefined);
    if (ways.length > 1) {
      ctx.addIssue({
        code: "custom",
        message: "give at most one of bearer_token, bearer_token_file and basic_auth",
      });
    }
    if (t.timeout_seconds !== undefined && t.timeout_seconds > t.interval_seconds) {
      ctx.addIssue({
        code: "custom",
        path: ["timeout_seconds"],
        message: "must not be longer than interval_seconds",
      });
    }
    if (t.tls_ca_file !== undefined && t.url.startsWith("http:")) {
      ctx.addIssue({ code: "custom", path: ["tls_ca_file"], message: "is for https:// URLs only" });
    }
  });

const FileSchema = z
  .object({ targets: z.array(TargetSchema).max(MAX_TARGETS) })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Map<string, number>();
    f.targets.forEach((t, i) => {
      const first = seen.get(t.server);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["targets", i, "server"],
          message: `'${t.server}' is already the server of targets[${first}]: one target per server`,
        });
      } else seen.set(t.server, i);
    });
  });

/**
 * The secrets and CAs the raw JSON names, read (by their place:
 * `targets[0].bearer_token_file`), whether or not the rest of the file is
 * valid, so one start reports a missing file next to a bad URL.
 */
function readNamedFiles(json: unknown, problems: string[]): Map<string, string> {
  const values = new Map<string, string>();
  const targets = isRecord(json) && Array.isArray(json.targets) ? json.targets.slice(0, MAX_TARGETS) : [];
  targets.forEach((t: unknown, i) => {
    if (!isRecord(t)) return;
    const named: [string, unknown, boolean][] = [
      [`targets[${i}].bearer_token_file`, t.bearer_token_file, true],
      [
        `targets[${i}].basic_auth.password_file`,
        isRecord(t.basic_auth) ? t.basic_auth.password_file : undefined,
        true,
      ],
      [`targets[${i}].tls_ca_file`, t.tls_ca_file, false],
    ];
    for (const [where, file, trim] of named) {
      if (typeof file === "string" && file !== "")
        values.set(where, readFileValue(file, where, problems, trim));
    }
  });
  return values;
}

/** Validates the file's parsed JSON. Throws one ConfigError naming every mistake. */
export function scrapeTargetsFromJson(json: unknown, source: string): ScrapeTarget[] {
  const fileProblems: string[] = [];
  const files = readNamedFiles(json, fileProblems);
  const parsed = FileSchema.safeParse(json);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues).map((issue) => {
      const where = pathText(issue.path);
      return where === "" ? issue.message : `${where}: ${issue.message}`;
    }),
    ...fileProblems,
  ];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(`SRVUTIL_SCRAPE_CONFIG (${source}): ${problems.join("; ")}`);
  }
  const file = (where: string): string => files.get(where) ?? "";
  return parsed.data.targets.map((t, i): ScrapeTarget => {
    let auth: ScrapeAuth | null = null;
    if (t.bearer_token !== undefined) auth = { kind: "bearer", token: t.bearer_token };
    else if (t.bearer_token_file !== undefined) {
      auth = { kind: "bearer", token: file(`targets[${i}].bearer_token_file`) };
    } else if (t.basic_auth !== undefined) {
      const password = t.basic_auth.password ?? file(`targets[${i}].basic_auth.password_file`);
      auth = { kind: "basic", username: t.basic_auth.username, password };
    }
    return {
      server: t.server,
      url: t.url,
      intervalMs: t.interval_seconds * 1000,
      timeoutMs: Math.round(
        Math.min(t.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS, t.interval_seconds) * 1000,
      ),
      auth,
      tlsCa: t.tls_ca_file === undefined ? null : file(`targets[${i}].tls_ca_file`),
    };
  });
}

/** Reads and validates the file SRVUTIL_SCRAPE_CONFIG names. */
export function loadScrapeTargets(file: string): ScrapeTarget[] {
  return scrapeTargetsFromJson(readJsonFile("SRVUTIL_SCRAPE_CONFIG", file), file);
}
