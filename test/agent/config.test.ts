import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  describeConfig,
  loadAgentConfig,
  metricsEndpoint,
  serverNameFromHostname,
} from "../../src/agent/config.js";
import { AgentConfigError } from "../../src/agent/errors.js";
import { isValidServerName } from "../../src/protocol/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "srvutil-agent-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const base = () => ({
  SRVUTIL_AGENT_DIR: dir,
  SRVUTIL_CENTRAL_URL: "https://central.example:8443/",
  SRVUTIL_AGENT_TOKEN: "t0k",
});

describe("loadAgentConfig", () => {
  it("reads env with defaults: hostname, 60 s / 20 min, 30 days / 256 MiB", () => {
    const c = loadAgentConfig(base());
    expect(c).toMatchObject({
      centralUrl: "https://central.example:8443/",
      token: "t0k",
      agentDir: dir,
      serverName: serverNameFromHostname(hostname()),
      sampleIntervalSeconds: 60,
      uploadIntervalSeconds: 1200,
      cpuSubsampleSeconds: 5,
      spool: { maxAgeMs: 30 * 86_400_000, maxBytes: 256 * 1024 * 1024 },
      configFile: null,
    });
  });

  it("names the missing setting in one line", () => {
    expect(() => loadAgentConfig({ SRVUTIL_AGENT_DIR: dir, SRVUTIL_AGENT_TOKEN: "x" })).toThrow(
      /^SRVUTIL_CENTRAL_URL is not set/,
    );
    expect(() => loadAgentConfig({ SRVUTIL_AGENT_DIR: dir, SRVUTIL_CENTRAL_URL: "http://c" })).toThrow(
      /^SRVUTIL_AGENT_TOKEN is not set/,
    );
    const missingBoth = () => loadAgentConfig({ SRVUTIL_AGENT_DIR: dir });
    expect(missingBoth).toThrow(AgentConfigError);
    expect(missingBoth).toThrow(expect.objectContaining({ name: expect.stringMatching(/ConfigError$/) }));
    expect(missingBoth).toThrow(/^[^\n]+$/);
    expect(() => loadAgentConfig({ SRVUTIL_AGENT_DIR: dir }, [], { requireCentral: false })).not.toThrow();
  });

  it("rejects bad URLs, server names and numbers with the setting's name", () => {
    expect(() => loadAgentConfig({ ...base(), SRVUTIL_CENTRAL_URL: "ftp://x" })).toThrow(
      /http:\/\/ or https:\/\//,
    );
    expect(() => loadAgentConfig({ ...base(), SRVUTIL_CENTRAL_URL: "https://u:p@x" })).toThrow(/credentials/);
    expect(() => loadAgentConfig({ ...base(), SRVUTIL_SERVER_NAME: "bad name" })).toThrow(
      /SRVUTIL_SERVER_NAME/,
    );
    expect(() => loadAgentConfig({ ...base(), SRVUTIL_AGENT_SAMPLE_SECONDS: "-1" })).toThrow(
      /SRVUTIL_AGENT_SAMPLE_SECONDS must be a positive number/,
    );
    expect(() => loadAgentConfig({ ...base(), SRVUTIL_AGENT_TOKEN: "has space" })).toThrow(
      /token contains spaces/,
    );
  });

  it("reads the token from a file, trimmed", () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "file-token\n");
    const { SRVUTIL_AGENT_TOKEN: _, ...env } = base();
    expect(loadAgentConfig({ ...env, SRVUTIL_AGENT_TOKEN_FILE: tokenFile }).token).toBe("file-token");
    expect(() => loadAgentConfig({ ...env, SRVUTIL_AGENT_TOKEN_FILE: join(dir, "nope") })).toThrow(
      /token file .*nope.*ENOENT/,
    );
  });

  it("reads agent.json from the agent dir; env overrides it; relative paths are relative to the file", () => {
    writeFileSync(join(dir, "tok"), "json-token");
    writeFileSync(
      join(dir, "agent.json"),
      JSON.stringify({
        central_url: "http://central.lan:8080/srvutil",
        token_file: "tok",
        server_name: "db-01",
        sample_interval_seconds: 30,
        upload_interval_seconds: 600,
        disks: { exclude_mounts: ["/boot*"], include_fs_types: ["tmpfs"] },
        spool: { max_age_days: 7, max_bytes: 1000000 },
        upload: { timeout_seconds: 5, max_attempts: 2 },
      }),
    );
    const c = loadAgentConfig({ SRVUTIL_AGENT_DIR: dir });
    expect(c).toMatchObject({
      centralUrl: "http://central.lan:8080/srvutil",
      token: "json-token",
      serverName: "db-01",
      sampleIntervalSeconds: 30,
      uploadIntervalSeconds: 600,
      configFile: join(dir, "agent.json"),
      disks: { excludeMounts: ["/boot*"], includeFsTypes: ["tmpfs"], includeMounts: [], excludeFsTypes: [] },
      spool: { maxAgeMs: 7 * 86_400_000, maxBytes: 1000000 },
      upload: { timeoutMs: 5000, maxAttempts: 2 },
    });
    expect(metricsEndpoint(c.centralUrl).href).toBe("http://central.lan:8080/srvutil/api/v1/metrics");
    const overridden = loadAgentConfig({
      SRVUTIL_AGENT_DIR: dir,
      SRVUTIL_SERVER_NAME: "db-02",
      SRVUTIL_AGENT_SAMPLE_SECONDS: "10",
    });
    expect(overridden).toMatchObject({ serverName: "db-02", sampleIntervalSeconds: 10 });
  });

  it("--config and --agent-dir flags win", () => {
    const other = join(dir, "elsewhere.json");
    writeFileSync(other, JSON.stringify({ central_url: "http://a", token: "tk", agent_dir: "data" }));
    const c = loadAgentConfig({}, ["--config", other]);
    expect(c.agentDir).toBe(join(dir, "data"));
    expect(loadAgentConfig({}, [`--config=${other}`, "--agent-dir", dir]).agentDir).toBe(dir);
  });

  it("refuses unknown settings and wrong types in agent.json", () => {
    writeFileSync(join(dir, "agent.json"), JSON.stringify({ centrl_url: "x" }));
    expect(() => loadAgentConfig(base())).toThrow(/unknown setting 'centrl_url'/);
    writeFileSync(join(dir, "agent.json"), JSON.stringify({ sample_interval_seconds: "60" }));
    expect(() => loadAgentConfig(base())).toThrow(/sample_interval_seconds must be a positive number/);
    writeFileSync(join(dir, "agent.json"), "{ not json");
    expect(() => loadAgentConfig(base())).toThrow(/is not valid JSON/);
  });

  it("reports every problem at once, as the central does: env and agent.json, unknown keys and bad values", () => {
    writeFileSync(
      join(dir, "agent.json"),
      JSON.stringify({
        centrl_url: "http://c",
        sample_interval_seconds: "60",
        upload: { timeout_sec: 10, max_attempts: -1 },
        disks: { include_mounts: "/" },
      }),
    );
    let message = "";
    try {
      loadAgentConfig({
        SRVUTIL_AGENT_DIR: dir,
        SRVUTIL_AGENT_UPLOAD_SECONDS: "soon",
        SRVUTIL_SERVER_NAME: "a b",
      });
    } catch (err) {
      expect(err).toBeInstanceOf(AgentConfigError);
      message = (err as Error).message;
    }
    expect(message).not.toContain("\n");
    const problems = message.split("; ");
    const expected = [
      /unknown setting 'centrl_url'/,
      /unknown setting 'upload\.timeout_sec'/,
      /^SRVUTIL_CENTRAL_URL is not set/,
      /^SRVUTIL_AGENT_TOKEN is not set/,
      /^SRVUTIL_SERVER_NAME \/ server_name: /,
      /SRVUTIL_AGENT_UPLOAD_SECONDS must be a positive number, not 'soon'/,
      /sample_interval_seconds must be a positive number/,
      /disks\.include_mounts must be a list of non-empty strings/,
      /upload\.max_attempts must be a positive number/,
    ];
    for (const pattern of expected)
      expect(
        problems.some((p) => pattern.test(p)),
        String(pattern),
      ).toBe(true);
    expect(problems).toHaveLength(expected.length);
  });

  it("never shows the token when the config is described", () => {
    const shown = JSON.stringify(
      describeConfig(loadAgentConfig({ ...base(), SRVUTIL_AGENT_TOKEN: "super-secret-123" })),
    );
    expect(shown).not.toContain("super-secret-123");
    expect(shown).toContain("(set, 16 characters)");
  });
});

describe("serverNameFromHostname", () => {
  it.each([
    ["web-01.example.com", "web-01.example.com"],
    ["WIN_SRV 01", "WIN_SRV-01"],
    ["_build.", "build"],
    ["host.", "host"],
    ["é", "server"],
    ["con", "con-host"],
    ["a".repeat(80), "a".repeat(64)],
  ])("%s → %s", (host, expected) => {
    const name = serverNameFromHostname(host);
    expect(name).toBe(expected);
    expect(isValidServerName(name)).toBe(true);
  });
});

describe("agent.json typos at every nesting level", () => {
  /** Writes agent.json, loads it, and returns the AgentConfigError's message (fails if nothing throws). */
  const refusal = (content: Record<string, unknown>): string => {
    writeFileSync(join(dir, "agent.json"), JSON.stringify(content));
    let thrown: unknown;
    try {
      loadAgentConfig(base());
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AgentConfigError);
    const message = (thrown as Error).message;
    expect(message).not.toContain("\n");
    return message;
  };

  it.each([
    [{ centrl_url: "http://c" }, "centrl_url", "central_url"],
    [{ sample_interval_secs: 30 }, "sample_interval_secs", "sample_interval_seconds"],
    [{ Token_File: "/t" }, "Token_File", "token_file"],
    [{ disk: {} }, "disk", "disks"],
  ])("top level: %j names '%s' and suggests '%s'", (content, key, suggestion) => {
    const message = refusal(content);
    expect(message).toContain(`unknown setting '${key}'`);
    expect(message).toContain(`did you mean '${suggestion}'?`);
  });

  it.each([
    [{ disks: { include_mount: ["/"] } }, "disks.include_mount", "disks.include_mounts"],
    [{ disks: { exclude_fstypes: ["nfs"] } }, "disks.exclude_fstypes", "disks.exclude_fs_types"],
    [
      { disks: { include_mounts: ["/"], exclde_mounts: ["/boot"] } },
      "disks.exclde_mounts",
      "disks.exclude_mounts",
    ],
    [{ spool: { max_age: 7 } }, "spool.max_age", "spool.max_age_days"],
    [{ spool: { maxbytes: 1000 } }, "spool.maxbytes", "spool.max_bytes"],
    [{ upload: { timeout_sec: 10 } }, "upload.timeout_sec", "upload.timeout_seconds"],
    [{ upload: { max_attempt: 3 } }, "upload.max_attempt", "upload.max_attempts"],
    [{ upload: { backoff_max: 9000 } }, "upload.backoff_max", "upload.backoff_max_ms"],
    [{ upload: { max_batch_byte: 1 } }, "upload.max_batch_byte", "upload.max_batch_bytes"],
  ])("nested: %j names '%s' and suggests '%s'", (content, path, suggestion) => {
    const message = refusal(content);
    expect(message).toContain(`unknown setting '${path}'`);
    expect(message).toContain(`did you mean '${suggestion}'?`);
    expect(message).toContain(`known in ${path.split(".")[0]}:`);
  });

  it("lists the known keys without a guess when nothing is close", () => {
    const message = refusal({ upload: { colour: "blue" } });
    expect(message).toContain("unknown setting 'upload.colour'");
    expect(message).not.toContain("did you mean");
    expect(message).toContain(
      "known in upload: timeout_seconds, max_attempts, backoff_initial_ms, backoff_max_ms, max_batch_bytes",
    );
  });

  it("still accepts every documented nested key, and reports a wrong section type by name", () => {
    writeFileSync(
      join(dir, "agent.json"),
      JSON.stringify({
        disks: {
          include_mounts: ["/"],
          exclude_mounts: ["/boot*"],
          include_fs_types: [],
          exclude_fs_types: [],
        },
        spool: { max_age_days: 7, max_bytes: 1000 },
        upload: {
          timeout_seconds: 10,
          max_attempts: 3,
          backoff_initial_ms: 100,
          backoff_max_ms: 900,
          max_batch_bytes: 4096,
        },
      }),
    );
    const c = loadAgentConfig(base());
    expect(c.upload).toEqual({
      timeoutMs: 10_000,
      maxAttempts: 3,
      backoffInitialMs: 100,
      backoffMaxMs: 900,
      maxBatchBytes: 4096,
    });
    expect(c.spool).toEqual({ maxAgeMs: 7 * 86_400_000, maxBytes: 1000 });
    expect(c.disks.includeMounts).toEqual(["/"]);
    expect(refusal({ upload: [1, 2] })).toContain("upload must be an object");
  });
});
