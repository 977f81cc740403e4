import { describe, expect, it } from "vitest";
import { buildPolicy, decideFor, decideUnbound } from "../../src/central/agent-update-policy.js";
import { parseDeliveryGroups } from "../../src/central/delivery/groups.js";
import type { AutoUpdateSetting } from "../../src/central/storage/agent-update-store.js";
import { manifestSigningText } from "../../src/protocol/agent-manifest.js";

/**
 * The auto-update rule on its own: a group's explicit setting over the
 * fleet's, off between groups that disagree, the environment's default
 * when nothing is stored; rows of groups gone from the file and the
 * whole-fleet "default" group never decide.
 */
const groups = parseDeliveryGroups(
  {
    groups: [
      { name: "web", servers: ["web-*"], to: ["w@example.com"] },
      { name: "canary", servers: ["web-0?"], to: ["c@example.com"] },
    ],
  },
  ["ops@example.com"],
);
const set = (group: string | null, enabled: boolean | null): AutoUpdateSetting => ({
  group,
  enabled,
  changedBy: "alice",
  changedAt: Date.now(),
});

describe("decideFor and decideUnbound", () => {
  it("follows SRVUTIL_AGENT_AUTO_UPDATE when nothing is stored", () => {
    expect(decideFor(buildPolicy([], groups, true), "db-01")).toEqual({
      enabled: true,
      because: "fleet default (SRVUTIL_AGENT_AUTO_UPDATE=on)",
    });
    expect(decideFor(buildPolicy([], groups, false), "web-01").enabled).toBe(false);
    expect(decideUnbound(buildPolicy([], groups, true)).enabled).toBe(true);
  });

  it("lets a group override the fleet, and off win between groups", () => {
    const p = buildPolicy([set(null, false), set("web", true)], groups, true);
    expect(decideFor(p, "web-12")).toEqual({ enabled: true, because: "group web is on" });
    expect(decideFor(p, "db-01")).toEqual({ enabled: false, because: "fleet is off" });
    const q = buildPolicy([set(null, true), set("web", true), set("canary", false)], groups, false);
    expect(decideFor(q, "web-01")).toEqual({ enabled: false, because: "group canary is off" });
    expect(decideFor(q, "web-12").enabled).toBe(true);
    expect(decideFor(q, "db-01").enabled).toBe(true);
    // Unbound: not on while any group is off.
    expect(decideUnbound(q)).toEqual({ enabled: false, because: "group canary is off" });
  });

  it("ignores a group gone from the file, a group put back to default, and the whole-fleet default group", () => {
    const withDefault = parseDeliveryGroups(
      {
        default: { to: ["ops@example.com"] },
        groups: [{ name: "web", servers: ["web-*"], to: ["w@example.com"] }],
      },
      [],
    );
    expect(withDefault.map((g) => g.name)).toEqual(["default", "web"]);
    const p = buildPolicy(
      [set(null, true), set("gone", false), set("web", null), set("default", false)],
      withDefault,
      false,
    );
    expect(p.groups.map((g) => g.name)).toEqual(["web"]);
    expect(decideFor(p, "web-01")).toEqual({ enabled: true, because: "fleet is on" });
    expect(decideUnbound(p).enabled).toBe(true);
  });

  it("signs a manifest for no server exactly as before the binding (older agents verify it)", () => {
    const m = {
      version: "0.2.0",
      autoUpdate: true,
      agents: [{ platform: "node", size: 1, sha256: "a".repeat(64) }],
    };
    const text = manifestSigningText(m);
    expect(text).toBe(
      `srvutil-agent-manifest v1\nversion 0.2.0\nauto_update on\nagent node 1 ${"a".repeat(64)}\n`,
    );
    expect(manifestSigningText({ ...m, server: null })).toBe(text);
    expect(manifestSigningText({ ...m, server: "web-01" })).toBe(
      `srvutil-agent-manifest v1\nversion 0.2.0\nauto_update on\nserver web-01\nagent node 1 ${"a".repeat(64)}\n`,
    );
  });
});
