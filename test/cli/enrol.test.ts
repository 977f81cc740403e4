import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { enrolServer } from "../../src/central/enrol/enrol.js";
import { openStorage } from "../../src/central/storage/open.js";
import { runCli } from "../helpers/cli.js";

/** `srvutil central enrol create|list|revoke` against a real SQLite file, as an operator runs them. */
let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-enrol-cli-"));
  env = { PATH: process.env.PATH ?? "", SRVUTIL_DATA_DIR: dir };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => runCli(["central", "enrol", ...args], env);

it("create prints the token alone on its last line; it enrols; list shows uses, expiry and state, never the secret; revoke", async () => {
  const created = await run([
    "create",
    "--servers",
    "web-*",
    "--uses",
    "2",
    "--expires",
    "2h",
    "--allow-reenrol",
    "--tag",
    "team=web",
    "--tag",
    "env=prod",
  ]);
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);
  const lines = created.stdout.trimEnd().split("\n");
  const token = lines.at(-1)!;
  expect(token).toMatch(/^srve_[0-9a-f]{12}_[0-9a-f]{64}$/);
  expect(lines.slice(0, -1).join("\n")).not.toContain(token);
  const tokenId = token.split("_")[1]!;
  expect(lines[0]).toContain(`Enrolment token ${tokenId} for servers 'web-*': 2 uses, expires `);
  expect(lines[0]).toContain("may re-enrol existing names");

  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  try {
    const record = (await store.enrolments.find(tokenId))!;
    expect(record).toMatchObject({
      servers: "web-*",
      maxUses: 2,
      uses: 0,
      allowReenrol: true,
      tags: { team: "web", env: "prod" },
    });
    expect(Math.abs(record.expiresAt - (Date.now() + 2 * 3600_000))).toBeLessThan(60_000);
    expect(record.createdBy).toMatch(/^cli:/);
    expect((await enrolServer(store, { token, server: "web-07", address: "127.0.0.1" })).ok).toBe(true);
  } finally {
    await store.close();
  }

  const defaults = await run(["create", "--servers", "db-*"]);
  expect(defaults.code).toBe(0);
  expect(defaults.stdout).toMatch(/for servers 'db-\*': 1 use, expires /);
  const other = defaults.stdout.trimEnd().split("\n").at(-1)!.split("_")[1]!;

  const list = await run(["list"]);
  expect(list.code).toBe(0);
  expect(list.stdout.split("\n")[0]).toMatch(
    /^TOKEN ID\s+SERVERS\s+USES\s+EXPIRES\s+STATE\s+RE-ENROL\s+CREATED\s+BY$/,
  );
  expect(list.stdout).toMatch(new RegExp(`${tokenId}\\s+web-\\*\\s+1/2\\s+\\S+\\s+active\\s+yes`));
  expect(list.stdout).toMatch(new RegExp(`${other}\\s+db-\\*\\s+0/1\\s+\\S+\\s+active\\s+no`));
  expect(list.stdout).toMatch(/Last enrolments:\n.*\n.*web-07/);
  expect(list.stdout).not.toContain(token.split("_")[2]!);

  const revoked = await run(["revoke", tokenId]);
  expect(revoked.code).toBe(0);
  expect(revoked.stdout).toBe(
    `Revoked enrolment token ${tokenId}; the servers it enrolled keep their agent tokens\n`,
  );
  expect((await run(["list"])).stdout).toMatch(
    new RegExp(`${tokenId}\\s+web-\\*\\s+1/2\\s+\\S+\\s+revoked \\S+`),
  );
  const again = await run(["revoke", tokenId]);
  expect(again.code).toBe(64);
  expect(again.stderr).toContain(`no active enrolment token ${tokenId}`);

  const log = readFileSync(path.join(dir, "Logs", "automation.log"), "utf8");
  expect(log).toContain('"enrolment token created"');
  expect(log).toContain('"enrolment token revoked"');
  expect(log).not.toContain(token.split("_")[2]!);
}, 60_000);

it("refuses bad options with a usage error and stores nothing", async () => {
  const cases: [string[], RegExp][] = [
    [["create"], /required option '--servers <glob>'/],
    [["create", "--servers", "web-*", "--uses", "0"], /--uses: expected a whole number from 1/],
    [
      ["create", "--servers", "web-*", "--expires", "5y"],
      /--expires '5y': expected a duration such as 30m, 24h or 7d/,
    ],
    [["create", "--servers", "web-*", "--expires", "400d"], /--expires: expected a duration from 1m to 365d/],
    [["create", "--servers", "web/*"], /--servers 'web\/\*': expected a glob of server names/],
    [["create", "--servers", "web-*", "--tag", "novalue"], /--tag 'novalue': expected KEY=VALUE/],
    [["revoke", "nothex"], /expected an enrolment token id of 12 hex digits/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    expect({ args, code: r.code === 64 || r.code === 1 }).toEqual({ args, code: true });
    expect(r.stderr).toMatch(message);
  }
  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  try {
    expect((await store.enrolments.list()).map((t) => t.servers).sort()).toEqual(["db-*", "web-*"]);
  } finally {
    await store.close();
  }
}, 120_000);
