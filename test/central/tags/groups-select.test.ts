import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildPolicy, decideFor } from "../../../src/central/agent-update-policy.js";
import { GroupsConfigError, NO_TAGS, parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { openStorage } from "../../../src/central/storage/open.js";
import { runCli } from "../../helpers/cli.js";

/**
 * Groups that select by tags and/or name globs (every selector given must
 * match), files of name globs alone unchanged; and `srvutil central tags`
 * on a real SQLite file.
 */
const parse = (groups: unknown[]) => parseDeliveryGroups({ default: { enabled: false }, groups }, []);
const to = ["x@example.com"];

describe("group selectors", () => {
  it("selects by select terms, a tags object and name globs, all ANDed", () => {
    const [payments, paymentsDb, mixed] = parse([
      { name: "payments", select: "team=payments, env=prod", to },
      { name: "payments-db", tags: { team: "payments" }, servers: ["db-*"], to },
      { name: "mixed", select: "name=app-*,team=payments", servers: ["*-01"], to },
    ]);
    const prod = { team: "payments", env: "prod" };
    expect(payments!.tags).toEqual(prod);
    expect(payments!.includes("anything", prod)).toBe(true);
    expect(payments!.includes("anything", { team: "payments", env: "stage" })).toBe(false);
    expect(payments!.includes("anything", { team: "payments" })).toBe(false);
    expect(payments!.includes("anything", NO_TAGS)).toBe(false);
    expect(paymentsDb!.includes("db-01", { team: "payments" })).toBe(true);
    expect(paymentsDb!.includes("web-01", { team: "payments" })).toBe(false);
    expect(paymentsDb!.includes("db-01", { team: "search" })).toBe(false);
    expect(mixed!.includes("app-01", { team: "payments" })).toBe(true);
    expect(mixed!.includes("app-02", { team: "payments" })).toBe(false);
    expect(mixed!.includes("db-01", { team: "payments" })).toBe(false);
    expect(mixed!.servers).toEqual(["*-01", "app-*"]);
  });

  it("keeps a file of name globs alone valid and meaning what it meant, whatever the tags", () => {
    const [web] = parse([{ name: "web", servers: ["web-*"], to }]);
    expect(web!.wholeFleet).toBe(false);
    expect(web!.includes("web-01", NO_TAGS)).toBe(true);
    expect(web!.includes("web-01", { team: "x" })).toBe(true);
    expect(web!.includes("db-01", { team: "x" })).toBe(false);
    const [all] = parseDeliveryGroups({}, to);
    expect(all!.wholeFleet).toBe(true);
    expect(all!.includes("db-01", NO_TAGS)).toBe(true);
  });

  it("refuses a group without a selector, bad terms and conflicting values, naming the group", () => {
    const refused = (g: Record<string, unknown>) => {
      try {
        parse([{ name: "g", to, ...g }]);
      } catch (err) {
        expect(err).toBeInstanceOf(GroupsConfigError);
        return (err as Error).message;
      }
      throw new Error("expected a GroupsConfigError");
    };
    expect(refused({})).toMatch(/groups\.0: select servers by/);
    expect(refused({ select: "team" })).toMatch(/groups\.0\.select: 'team' is not key=value/);
    expect(refused({ select: "team=a b" })).toMatch(/value 'a b'/);
    expect(refused({ select: "name=db/*" })).toMatch(/after name=/);
    expect(refused({ select: "team=a", tags: { team: "b" } })).toMatch(/tag team/);
    expect(refused({ tags: { "bad key": "x" } })).toMatch(/groups\.0\.tags: tag key 'bad key'/);
    expect(refused({ tags: { team: 3 } })).toMatch(/groups\.0\.tags\.team/);
  });
});

describe("srvutil central tags", () => {
  it("sets, lists and unsets central tags on a real SQLite file", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-tags-cli-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, SRVUTIL_DATA_DIR: dir };
      for (const k of Object.keys(env))
        if (k.startsWith("SRVUTIL_") && k !== "SRVUTIL_DATA_DIR") delete env[k];
      const set = await runCli(["central", "tags", "set", "web-01", "team=payments", "env=prod"], env);
      expect(set.stderr).toBe("");
      expect(set.stdout).toBe("Tags of web-01 set.\n");
      expect(set.code).toBe(0);
      const again = await runCli(["central", "tags", "set", "web-01", "team=payments"], env);
      expect(again.stdout).toBe("web-01 already had these tags.\n");
      const bad = await runCli(["central", "tags", "set", "web-01", "team=pay ments"], env);
      expect(bad.code).toBe(64);
      expect(bad.stderr).toContain("SRVUTIL_E_BAD_TAGS");
      const list = await runCli(["central", "tags", "list"], env);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/^SERVER\s+KEY\s+VALUE\s+FROM\s+SINCE/);
      expect(list.stdout).toMatch(/web-01\s+env\s+prod\s+central/);
      expect(list.stdout).toMatch(/web-01\s+team\s+payments\s+central/);
      const unset = await runCli(["central", "tags", "unset", "web-01", "env"], env);
      expect(unset.stdout).toBe("Tags of web-01 unset.\n");
      // What the CLI wrote is what the central reads.
      const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
      try {
        await store.init();
        expect((await store.tags.current("web-01")).map((r) => [r.source, r.key, r.value])).toEqual([
          ["central", "team", "payments"],
        ]);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("agent auto-update by a tag-selecting group", () => {
  it("decides a server by the group its current tags put it in", () => {
    const groups = parseDeliveryGroups(
      { groups: [{ name: "payments", select: "team=payments", to: ["p@example.com"] }] },
      ["ops@example.com"],
    );
    const off = { group: "payments", enabled: false, changedBy: "alice", changedAt: Date.now() };
    const tags = new Map([["pay-01", { team: "payments" }]]);
    const p = buildPolicy([off], groups, true, tags);
    expect(decideFor(p, "pay-01")).toEqual({ enabled: false, because: "group payments is off" });
    expect(decideFor(p, "web-01").enabled).toBe(true);
    // Without the tags, no server is in the group: the fleet decides.
    expect(decideFor(buildPolicy([off], groups, true), "pay-01").enabled).toBe(true);
  });
});
