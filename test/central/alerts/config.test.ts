import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  alertsConfigFromJson,
  checkRouteGroups,
  defaultAlertsConfig,
  loadAlertsConfig,
} from "../../../src/central/alerts/config.js";
import { ConfigError } from "../../../src/errors.js";

const ISSUE_EXAMPLE = {
  evaluate_seconds: 60,
  channels: [
    { name: "ops-am", type: "alertmanager", url: "http://127.0.0.1:9093" },
    { name: "ops-mail", type: "email", to: ["ops@example.com"] },
  ],
  routes: [{ group: "db", min_severity: "critical", channels: ["ops-mail"] }],
};

function problemsOf(json: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    alertsConfigFromJson(json, "alerts.json", env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("SRVUTIL_ALERTS_CONFIG", () => {
  it("takes the issue's example as written, with every default", () => {
    const c = alertsConfigFromJson(ISSUE_EXAMPLE, "alerts.json", {});
    expect(c.evaluateMs).toBe(60_000);
    expect(c.channels.map((ch) => [ch.name, ch.type, ch.url, ch.to])).toEqual([
      ["ops-am", "alertmanager", "http://127.0.0.1:9093", []],
      ["ops-mail", "email", null, ["ops@example.com"]],
    ]);
    expect(c.routes).toEqual([{ group: "db", minSeverity: "critical", rules: null, channels: ["ops-mail"] }]);
    expect(c.rules.server_silent).toEqual({ enabled: true, afterMinutes: 60 });
    expect(c.rules.cpu_pressure.sustainedMinutes).toBe(60);
    expect(c.rules.memory_pressure.sustainedMinutes).toBe(30);
    expect(c.rules.disk_full_soon.criticalHours).toBe(24);
    expect(c.rules.disk_full_soon.warningHours).toBe(168);
    expect(c.rules.memory_trend.withinHours).toBe(24);
    expect(c.reminderMs).toBe(24 * 3_600_000);
  });

  it("an empty file is the defaults: no channel, every rule on", () => {
    const c = defaultAlertsConfig();
    expect(c.channels).toEqual([]);
    expect(Object.values(c.rules).every((r) => r.enabled)).toBe(true);
  });

  it("reports every mistake at once, each with its place in the file", () => {
    const msg = problemsOf({
      evaluate_seconds: 0.5,
      channels: [
        { name: "a", type: "pager" },
        { name: "b", type: "slack" },
        { name: "b", type: "email", to: ["not-an-address"] },
        { name: "c", type: "webhook", url: "ftp://x", token_env: "T" },
      ],
      routes: [{ channels: ["nope"], min_severity: "info" }],
      rules: { cpu_pressure: { sustained_minutes: -1 }, bogus: {} },
      surprise: true,
    });
    for (const part of [
      "evaluate_seconds:",
      "channels[0].type:",
      "channels[1]: give exactly one of url, url_env and url_file",
      "channels[2].to[0]: expected an email address",
      "channels[2].name: 'b' is already the name of channels[1]",
      "channels[3]: token_env and token_file are for ntfy channels only",
      "routes[0].min_severity:",
      "routes[0].channels[0]: 'nope' is not a channel of this file",
      "rules.cpu_pressure.sustained_minutes:",
      'rules: Unrecognized key: "bogus"',
      'Unrecognized key: "surprise"',
    ]) {
      expect(msg).toContain(part);
    }
    expect(msg.startsWith("SRVUTIL_ALERTS_CONFIG (alerts.json): ")).toBe(true);
  });

  it("reads secrets from env and files, and never puts a secret URL in a message", () => {
    const dir = mkdtempSync(join(tmpdir(), "srvutil-alerts-config-"));
    writeFileSync(join(dir, "slack-url"), "https://hooks.slack.com/services/T0/B0/s3cr3t\n");
    writeFileSync(join(dir, "hmac"), "k3y\n");
    const c = alertsConfigFromJson(
      {
        channels: [
          { name: "slack", type: "slack", url_file: join(dir, "slack-url") },
          { name: "hook", type: "webhook", url_env: "HOOK_URL", secret_file: join(dir, "hmac") },
          { name: "phone", type: "ntfy", url: "https://ntfy.sh/ops", token_env: "NTFY_TOKEN", tags: ["srv"] },
        ],
      },
      "alerts.json",
      { HOOK_URL: "https://example.com/hook?key=abc", NTFY_TOKEN: "tk_1" },
    );
    expect(c.channels[0]!.url).toBe("https://hooks.slack.com/services/T0/B0/s3cr3t");
    expect(c.channels[1]!.url).toBe("https://example.com/hook?key=abc");
    expect(c.channels[1]!.secret).toBe("k3y");
    expect(c.channels[2]!.token).toBe("tk_1");
    expect(c.channels[2]!.tags).toEqual(["srv"]);
    const msg = problemsOf(
      {
        channels: [
          { name: "slack", type: "slack", url_env: "SLACK_URL" },
          { name: "hook", type: "webhook", url_file: join(dir, "missing") },
          { name: "bad", type: "teams", url_env: "BAD_URL" },
        ],
      },
      { BAD_URL: "not a url with s3cr3t" },
    );
    expect(msg).toContain("channels[0].url_env: SLACK_URL is not set");
    expect(msg).toContain(`channels[1].url_file: cannot read ${join(dir, "missing")} (ENOENT)`);
    expect(msg).toContain("channels[2].url_env: is not a URL");
    expect(msg).not.toContain("s3cr3t");
  });

  it("a route's group must be one of the groups file", () => {
    const c = alertsConfigFromJson(ISSUE_EXAMPLE, "alerts.json", {});
    expect(() => checkRouteGroups(c, ["default", "db"], "alerts.json")).not.toThrow();
    expect(() => checkRouteGroups(c, ["default"], "alerts.json")).toThrow(
      "routes[0].group: 'db' is not a group of SRVUTIL_GROUPS_FILE (default)",
    );
  });

  it("a file that is missing or not JSON names the setting", () => {
    const dir = mkdtempSync(join(tmpdir(), "srvutil-alerts-config-"));
    expect(() => loadAlertsConfig(join(dir, "none.json"), {})).toThrow(
      /^SRVUTIL_ALERTS_CONFIG: cannot read .*ENOENT/,
    );
    writeFileSync(join(dir, "bad.json"), "{channels: ");
    expect(() => loadAlertsConfig(join(dir, "bad.json"), {})).toThrow(
      /^SRVUTIL_ALERTS_CONFIG \(.*bad.json\): not JSON/,
    );
  });
});
