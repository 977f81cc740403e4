import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openStorage } from "../../src/central/storage/open.js";
import { runCli } from "../helpers/cli.js";

/** `srvutil central agents auto-update` against a real SQLite file and groups file, as an operator runs it. */
let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-au-cli-"));
  const groupsFile = path.join(dir, "groups.json");
  writeFileSync(
    groupsFile,
    JSON.stringify({
      groups: [
        { name: "web", servers: ["web-*"], to: ["web@example.com"] },
        { name: "db", servers: ["db-*"], to: ["db@example.com"] },
      ],
    }),
  );
  env = {
    PATH: process.env.PATH ?? "",
    SRVUTIL_DATA_DIR: dir,
    SRVUTIL_GROUPS_FILE: groupsFile,
    SRVUTIL_REPORT_TO: "ops@example.com",
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => runCli(["central", "agents", "auto-update", ...args], env);

it("prints the policy per group, sets the fleet and a group, puts one back to the default, and refuses what it cannot do", async () => {
  const shown = await run([]);
  expect(shown.stderr).toBe("");
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/^SCOPE\s+SETTING\s+NOW\s+AGENTS\s+OUTDATED\s+CHANGED$/m);
  expect(shown.stdout).toMatch(/^fleet\s+default \(SRVUTIL_AGENT_AUTO_UPDATE=off\)\s+off\s+0\s+0\s+-$/m);
  expect(shown.stdout).toMatch(/^group web\s+default\s+off\s+0\s+0\s+-$/m);
  expect(shown.stdout).toMatch(/^group db\s+default\s+off/m);

  const web = await run(["on", "--group", "web"]);
  expect(web.code, web.stderr).toBe(0);
  expect(web.stdout).toContain("Auto-update of group web set to on.");
  expect(web.stdout).toMatch(/^group web\s+on\s+on\s+0\s+0\s+\d{4}-\d\d-\d\dT\d\d:\d\dZ cli:/m);
  expect((await run(["off"])).stdout).toMatch(/^fleet\s+off\s+off/m);
  const reset = await run(["default", "--group", "web"]);
  expect(reset.stdout).toMatch(/^group web\s+default\s+off\s+0\s+0\s+\d{4}.*cli:/m);

  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  try {
    const settings = await store.agentUpdates.list();
    expect(settings.map((s) => [s.group, s.enabled])).toEqual([
      [null, false],
      ["web", null],
    ]);
    for (const s of settings) expect(s.changedBy).toMatch(/^cli:/);
  } finally {
    await store.close();
  }
  expect(readFileSync(path.join(dir, "Logs", "automation.log"), "utf8")).toContain(
    "agent auto-update changed",
  );

  const unknown = await run(["on", "--group", "nope"]);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain("no group 'nope' in the groups file");
  expect(unknown.stderr).toContain("the groups are web, db");
  const bad = await run(["maybe"]);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("expected on, off or default, got 'maybe'");
  expect((await run(["--group", "web"])).stderr).toContain("--group needs a setting");
}, 60_000);
