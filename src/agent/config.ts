import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { nearestName } from "../nearest-name.js";
import { serverNameProblem, type Tags } from "../protocol/index.js";
import type { DiskFilter } from "./collector/types.js";
import { readTags } from "./config-tags.js";
import { AgentConfigError } from "./errors.js";
import { defaultAgentDir } from "./paths.js";

/** How uploads are retried; see uploader.ts. */
export interface UploadPolicy {
  /** Socket inactivity and whole-request deadline for one POST. */
  timeoutMs: number;
  /** Attempts per upload round for one batch before leaving it for the next round. */
  maxAttempts: number;
  /** First backoff delay; doubles per attempt, with full jitter. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Spool files are merged into one upload up to this many bytes of CSV. */
  maxBatchBytes: number;
}

export interface SpoolLimits {
  maxAgeMs: number;
  maxBytes: number;
}

/** Everything the agent needs, validated. Build it with loadAgentConfig. */
export interface AgentConfig {
  /** Base URL of the central, e.g. https://central.example:8080 (the API path is appended). */
  centralUrl: string;
  /** Bearer token for this server. Never logged or printed. */
  token: string;
  /** Absolute path of the file the token was read from (null: from SRVUTIL_AGENT_TOKEN or agent.json). */
  tokenFile: string | null;
  serverName: string;
  /** Absolute path; holds metrics/ (spool), Logs/agent.log, cpu-state.json. */
  agentDir: string;
  /** PEM file of extra CA certificates for an HTTPS central with a private CA. */
  caFile: string | null;
  /** The config file that was read, if any. */
  configFile: string | null;
  sampleIntervalSeconds: number;
  uploadIntervalSeconds: number;
  cpuSubsampleSeconds: number;
  /** One-shot mode without usable previous counters: measure CPU for this long. */
  oneShotCpuMeasureMs: number;
  disks: DiskFilter;
  spool: SpoolLimits;
  upload: UploadPolicy;
  selfUpdate: SelfUpdatePolicy;
  /** Tags this server declares (SRVUTIL_TAGS, else agent.json's tags), sent with every upload. */
  tags: Tags;
}

/** Self-update timing (docs/agent.md, "Self-update"); agent.json's self_update section. */
export interface SelfUpdatePolicy {
  /** How often the daemon reads the central's manifest (also once at start). */
  checkSeconds: number;
  /** A new version that has not uploaded within this long after the swap is rolled back. */
  rollbackSeconds: number;
}

export const DEFAULTS = {
  sampleIntervalSeconds: 60,
  uploadIntervalSeconds: 20 * 60,
  cpuSubsampleSeconds: 5,
  oneShotCpuMeasureMs: 1000,
  spool: { maxAgeMs: 30 * 86_400_000, maxBytes: 256 * 1024 * 1024 },
  upload: {
    timeoutMs: 30_000,
    maxAttempts: 5,
    backoffInitialMs: 1000,
    backoffMaxMs: 60_000,
    maxBatchBytes: 1024 * 1024,
  },
  selfUpdate: { checkSeconds: 4 * 3600, rollbackSeconds: 10 * 60 },
} as const;

export interface LoadAgentConfigOptions {
  /** `agent install` does not need the central's URL or token; `run` does. Default true. */
  requireCentral?: boolean;
  cwd?: string;
  /** Whose default agent directory applies (default process.platform); see paths.ts. */
  platform?: NodeJS.Platform;
}

/** Flags understood in `argv` (the rest is ignored so callers can pass their whole argv). */
interface ConfigFlags {
  config?: string;
  agentDir?: string;
}

function flagsFrom(argv: readonly string[]): ConfigFlags {
  const flags: ConfigFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    if (name !== "--config" && name !== "--agent-dir") continue;
    const value = inline ?? argv[++i];
    if (value === undefined || value === "") throw new AgentConfigError(`${name} needs a value`);
    if (name === "--config") flags.config = value;
    else flags.agentDir = value;
  }
  return flags;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Builds the agent configuration. Precedence: command-line flags
 * (`--config FILE`, `--agent-dir DIR`) > environment > agent.json > defaults.
 * agent.json is read from `--config`, else SRVUTIL_AGENT_CONFIG, else
 * `<agent dir>/agent.json` when it exists.
 *
 * Every problem is reported at once, as the central does: one
 * AgentConfigError whose message lists each setting to fix, separated by
 * "; ". Only a file that cannot be read as a JSON object stops at once.
 *
 * Why not the central's zod schema (src/central/config.ts): the agent is
 * dependency-light by design (it never imports central code, and its bundle
 * and executables must stay small), and its settings come from three layers
 * (flags, environment, agent.json) with per-layer names, which a schema of
 * one flat source does not describe. The readers below are that schema: each
 * setting is read by one call that names both its variable and its key.
 */
export function loadAgentConfig(
  env: Env = process.env,
  argv: readonly string[] = [],
  options: LoadAgentConfigOptions = {},
): AgentConfig {
  const cwd = options.cwd ?? process.cwd();
  const flags = flagsFrom(argv);
  const problems: string[] = [];
  /** Reads one setting; a problem is noted (and `fallback` used) so the others are still checked. */
  const setting = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof AgentConfigError)) throw err;
      problems.push(err.message);
      return fallback;
    }
  };
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v.trim());

  const envAgentDir = nonEmpty(env.SRVUTIL_AGENT_DIR);
  const platformAgentDir = defaultAgentDir(options.platform ?? process.platform, env);
  const explicitConfig = flags.config ?? nonEmpty(env.SRVUTIL_AGENT_CONFIG);
  let configFile: string | null = null;
  let file: ConfigFile = {};
  if (explicitConfig !== undefined) {
    configFile = resolve(cwd, explicitConfig);
    file = readConfigFile(configFile, true, problems)!;
  } else {
    const given = flags.agentDir ?? envAgentDir;
    const dir = given !== undefined ? resolve(cwd, given) : platformAgentDir;
    const candidate = join(dir, "agent.json");
    const found = readConfigFile(candidate, false, problems);
    if (found) {
      configFile = candidate;
      file = found;
    }
  }
  const fileDir = configFile ? dirname(configFile) : cwd;
  const fromFile = (p: string) => (isAbsolute(p) ? p : resolve(fileDir, p));
  const where = configFile ?? "agent.json";

  const agentDir = flags.agentDir
    ? resolve(cwd, flags.agentDir)
    : envAgentDir
      ? resolve(cwd, envAgentDir)
      : file.agent_dir !== undefined
        ? setting(() => fromFile(str(file.agent_dir, "agent_dir", where)), platformAgentDir)
        : platformAgentDir;

  const requireCentral = options.requireCentral ?? true;

  // Central URL.
  const centralUrl = setting(() => {
    const urlText = nonEmpty(env.SRVUTIL_CENTRAL_URL) ?? optStr(file.central_url, "central_url", where);
    if (urlText !== undefined) return validateCentralUrl(urlText);
    if (requireCentral) {
      throw new AgentConfigError(
        "SRVUTIL_CENTRAL_URL is not set (or central_url in agent.json): set it to the central's base URL, e.g. https://central.example:8080",
      );
    }
    return "";
  }, "");

  // Token: env value, env file, file value, file's token_file.
  const tokenFile = setting(
    () =>
      nonEmpty(env.SRVUTIL_AGENT_TOKEN_FILE) ??
      (file.token_file !== undefined ? fromFile(str(file.token_file, "token_file", where)) : undefined),
    undefined,
  );
  const envToken = nonEmpty(env.SRVUTIL_AGENT_TOKEN);
  const tokenFileUsed = envToken === undefined && tokenFile !== undefined ? resolve(cwd, tokenFile) : null;
  const token = setting(() => {
    let token: string | undefined;
    if (envToken !== undefined) token = envToken;
    else if (tokenFile !== undefined) token = readTokenFile(resolve(cwd, tokenFile));
    else token = optStr(file.token, "token", where)?.trim();
    if (token === undefined || token === "") {
      if (requireCentral) {
        throw new AgentConfigError(
          "SRVUTIL_AGENT_TOKEN is not set (nor SRVUTIL_AGENT_TOKEN_FILE, nor token_file in agent.json): create a token on the central with `srvutil central token add <server>`",
        );
      }
      return "";
    }
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new AgentConfigError(
        "the agent token contains spaces or non-ASCII characters: check SRVUTIL_AGENT_TOKEN / the token file",
      );
    }
    return token;
  }, "");

  // Server name: explicit names must be valid; the hostname default is sanitized.
  const serverName = setting(() => {
    const explicitName = nonEmpty(env.SRVUTIL_SERVER_NAME) ?? optStr(file.server_name, "server_name", where);
    if (explicitName === undefined) return serverNameFromHostname(hostname());
    const problem = serverNameProblem(explicitName);
    if (problem !== null) throw new AgentConfigError(`SRVUTIL_SERVER_NAME / server_name: ${problem}`);
    return explicitName;
  }, "");

  const caFile = setting(() => {
    const caText = nonEmpty(env.SRVUTIL_AGENT_CA_FILE) ?? optStr(file.ca_file, "ca_file", where);
    if (caText === undefined) return null;
    const caFile = nonEmpty(env.SRVUTIL_AGENT_CA_FILE) ? resolve(cwd, caText) : fromFile(caText);
    try {
      statSync(caFile);
    } catch {
      throw new AgentConfigError(`CA file ${caFile} (SRVUTIL_AGENT_CA_FILE / ca_file) cannot be read`);
    }
    return caFile;
  }, null);

  const envNum = (name: string) =>
    setting(() => {
      const v = nonEmpty(env[name]);
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0)
        throw new AgentConfigError(`${name} must be a positive number, not '${v}'`);
      return n;
    }, undefined);
  const fileNum = (v: unknown, key: string) => setting(() => posNum(v, key, where), undefined);
  const fileList = (v: unknown, key: string) => setting(() => strList(v, key, where), []);
  const fileSection = (v: unknown, key: string) => setting(() => obj(v, key, where), undefined) ?? {};
  const sampleIntervalSeconds =
    envNum("SRVUTIL_AGENT_SAMPLE_SECONDS") ??
    fileNum(file.sample_interval_seconds, "sample_interval_seconds") ??
    DEFAULTS.sampleIntervalSeconds;
  const uploadIntervalSeconds =
    envNum("SRVUTIL_AGENT_UPLOAD_SECONDS") ??
    fileNum(file.upload_interval_seconds, "upload_interval_seconds") ??
    DEFAULTS.uploadIntervalSeconds;
  const cpuSubsampleSeconds =
    fileNum(file.cpu_subsample_seconds, "cpu_subsample_seconds") ?? DEFAULTS.cpuSubsampleSeconds;
  const oneShotCpuMeasureMs =
    envNum("SRVUTIL_AGENT_CPU_MEASURE_MS") ??
    fileNum(file.one_shot_cpu_measure_ms, "one_shot_cpu_measure_ms") ??
    DEFAULTS.oneShotCpuMeasureMs;

  const disksFile = fileSection(file.disks, "disks");
  const disks: DiskFilter = {
    includeMounts: fileList(disksFile.include_mounts, "disks.include_mounts"),
    excludeMounts: fileList(disksFile.exclude_mounts, "disks.exclude_mounts"),
    includeFsTypes: fileList(disksFile.include_fs_types, "disks.include_fs_types"),
    excludeFsTypes: fileList(disksFile.exclude_fs_types, "disks.exclude_fs_types"),
  };
  const spoolFile = fileSection(file.spool, "spool");
  const maxAgeDays = fileNum(spoolFile.max_age_days, "spool.max_age_days");
  const spool: SpoolLimits = {
    maxAgeMs: maxAgeDays !== undefined ? maxAgeDays * 86_400_000 : DEFAULTS.spool.maxAgeMs,
    maxBytes: fileNum(spoolFile.max_bytes, "spool.max_bytes") ?? DEFAULTS.spool.maxBytes,
  };
  const uploadFile = fileSection(file.upload, "upload");
  const timeoutSeconds = fileNum(uploadFile.timeout_seconds, "upload.timeout_seconds");
  const upload: UploadPolicy = {
    timeoutMs: timeoutSeconds !== undefined ? timeoutSeconds * 1000 : DEFAULTS.upload.timeoutMs,
    maxAttempts: fileNum(uploadFile.max_attempts, "upload.max_attempts") ?? DEFAULTS.upload.maxAttempts,
    backoffInitialMs:
      fileNum(uploadFile.backoff_initial_ms, "upload.backoff_initial_ms") ?? DEFAULTS.upload.backoffInitialMs,
    backoffMaxMs: fileNum(uploadFile.backoff_max_ms, "upload.backoff_max_ms") ?? DEFAULTS.upload.backoffMaxMs,
    maxBatchBytes:
      fileNum(uploadFile.max_batch_bytes, "upload.max_batch_bytes") ?? DEFAULTS.upload.maxBatchBytes,
  };
  const updateFile = fileSection(file.self_update, "self_update");
  const selfUpdate: SelfUpdatePolicy = {
    checkSeconds:
      fileNum(updateFile.check_seconds, "self_update.check_seconds") ?? DEFAULTS.selfUpdate.checkSeconds,
    rollbackSeconds:
      fileNum(updateFile.rollback_seconds, "self_update.rollback_seconds") ??
      DEFAULTS.selfUpdate.rollbackSeconds,
  };

  // Tags: SRVUTIL_TAGS replaces agent.json's tags as a whole (one set, one source).
  const tags = setting(() => readTags(env.SRVUTIL_TAGS, file.tags, where), {});

  if (problems.length > 0) throw new AgentConfigError(problems.join("; "));
  return {
    centralUrl,
    token,
    tokenFile: tokenFileUsed,
    serverName,
    agentDir,
    caFile,
    configFile,
    sampleIntervalSeconds,
    uploadIntervalSeconds,
    cpuSubsampleSeconds,
    oneShotCpuMeasureMs,
    disks,
    spool,
    upload,
    selfUpdate,
    tags,
  };
}

/** The config as it may be logged or printed: the token replaced by its length. */
export function describeConfig(config: AgentConfig): Record<string, unknown> {
  const { token, ...rest } = config;
  return { ...rest, token: token === "" ? "(none)" : `(set, ${token.length} characters)` };
}

/**
 * Turns a hostname into a valid server name: characters outside
 * [A-Za-z0-9._-] become '-', leading punctuation and trailing dots are
 * dropped, 64 characters at most. Falls back to "server" for an empty result.
 */
export function serverNameFromHostname(host: string): string {
  let name = host.trim().replace(/[^A-Za-z0-9._-]/g, "-");
  name = name
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 64)
    .replace(/\.+$/, "");
  if (serverNameProblem(name) !== null)
    name = serverNameProblem(`${name}-host`.slice(0, 64)) === null ? `${name}-host` : "server";
  return name;
}

export function validateCentralUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AgentConfigError(
      `SRVUTIL_CENTRAL_URL '${text}' is not a URL (expected e.g. https://central.example:8080)`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new AgentConfigError(
      `SRVUTIL_CENTRAL_URL must start with http:// or https://, not ${url.protocol}`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new AgentConfigError("SRVUTIL_CENTRAL_URL must not contain credentials: use SRVUTIL_AGENT_TOKEN");
  }
  return url.href;
}

/** The upload endpoint under the central's base URL (keeps a path prefix like /srvutil/). */
export function metricsEndpoint(centralUrl: string): URL {
  const base = centralUrl.endsWith("/") ? centralUrl : `${centralUrl}/`;
  return new URL("api/v1/metrics", base);
}

function readTokenFile(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new AgentConfigError(
      `token file ${path} (SRVUTIL_AGENT_TOKEN_FILE / token_file) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

// --- agent.json reading -------------------------------------------------------

type ConfigFile = Record<string, unknown>;

function readConfigFile(path: string, required: boolean, problems: string[]): ConfigFile | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new AgentConfigError(
      `config file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AgentConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new AgentConfigError(`config file ${path} must contain a JSON object`);
  }
  problems.push(...unknownKeys(parsed as ConfigFile, CONFIG_KEYS, "", path));
  return parsed as ConfigFile;
}

/**
 * Every key agent.json may hold; a nested object lists its own keys. A typo
 * must stop the agent: `upload.timeout_sec` silently ignored would leave the
 * default in force while the operator believes it changed.
 */
const CONFIG_KEYS: KeySchema = {
  central_url: true,
  token: true,
  token_file: true,
  server_name: true,
  agent_dir: true,
  ca_file: true,
  sample_interval_seconds: true,
  upload_interval_seconds: true,
  cpu_subsample_seconds: true,
  one_shot_cpu_measure_ms: true,
  disks: { include_mounts: true, exclude_mounts: true, include_fs_types: true, exclude_fs_types: true },
  spool: { max_age_days: true, max_bytes: true },
  upload: {
    timeout_seconds: true,
    max_attempts: true,
    backoff_initial_ms: true,
    backoff_max_ms: true,
    max_batch_bytes: true,
  },
  self_update: { check_seconds: true, rollback_seconds: true },
  // Free-form keys (the operator's own tag names), checked by fileTags.
  tags: true,
};

/** `true`: a leaf setting; an object: a nested section and its keys. */
interface KeySchema {
  readonly [key: string]: true | KeySchema;
}

/**
 * One problem per key the schema does not know, at any depth, naming its
 * full path and the nearest known key at that level. Wrong types of known
 * sections are left to the typed readers below, which name the key too.
 */
function unknownKeys(value: ConfigFile, schema: KeySchema, prefix: string, file: string): string[] {
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const spec = Object.hasOwn(schema, key) ? schema[key] : undefined;
    if (spec === undefined) {
      const known = Object.keys(schema);
      const nearest = nearestKey(key, known);
      const hint = nearest === null ? "" : `did you mean '${prefix}${nearest}'? `;
      problems.push(
        `config file ${file}: unknown setting '${prefix}${key}' (${hint}known${prefix === "" ? "" : ` in ${prefix.slice(0, -1)}`}: ${known.join(", ")})`,
      );
      continue;
    }
    if (spec !== true && typeof child === "object" && child !== null && !Array.isArray(child)) {
      problems.push(...unknownKeys(child as ConfigFile, spec, `${prefix}${key}.`, file));
    }
  }
  return problems;
}

/** The known key nearest to `key` (src/nearest-name.ts). */
export const nearestKey = nearestName;

function str(v: unknown, key: string, where: string): string {
  if (typeof v !== "string" || v.trim() === "")
    throw new AgentConfigError(`${where}: ${key} must be a non-empty string`);
  return v;
}
function optStr(v: unknown, key: string, where: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, key, where);
}
function posNum(v: unknown, key: string, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new AgentConfigError(`${where}: ${key} must be a positive number`);
  }
  return v;
}
function obj(v: unknown, key: string, where: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v))
    throw new AgentConfigError(`${where}: ${key} must be an object`);
  return v as Record<string, unknown>;
}
function strList(v: unknown, key: string, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s === "")) {
    throw new AgentConfigError(`${where}: ${key} must be a list of non-empty strings`);
  }
  return v as string[];
}
