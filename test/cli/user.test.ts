import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { verifyPassword } from "../../src/central/dashboard/password.js";
import { openStorage } from "../../src/central/storage/open.js";
import { type CliResult, REPO_ROOT, srvutilCommand } from "../helpers/cli.js";

/** `srvutil central user add|list|remove` against a real SQLite file, the password on stdin or in a file. */
let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-user-cli-"));
  env = { PATH: process.env.PATH ?? "", SRVUTIL_DATA_DIR: dir };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], stdin = ""): Promise<CliResult> {
  const [cmd, argv] = srvutilCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

it("adds users from stdin and from a file, lists them, refuses duplicates and short passwords, removes", async () => {
  const add = await run(["central", "user", "add", "ops-admin", "--role", "admin"], "s3cret password one\n");
  expect(add.stderr).toBe("");
  expect(add.code).toBe(0);
  expect(add.stdout).toBe("Added dashboard admin 'ops-admin'\n");
  const file = path.join(dir, "pw.txt");
  writeFileSync(file, "another password 2\nignored second line\n");
  expect((await run(["central", "user", "add", "reader", "--password-file", file])).code).toBe(0);

  const list = await run(["central", "user", "list"]);
  expect(list.stdout.split("\n")[0]).toMatch(/^NAME\s+ROLE\s+SEES\s+ADDED$/);
  expect(list.stdout).toMatch(/ops-admin\s+admin/);
  expect(list.stdout).toMatch(/reader\s+viewer\s+all servers/);

  const dup = await run(["central", "user", "add", "reader"], "whatever password\n");
  expect(dup.code).toBe(64);
  expect(dup.stderr).toContain("user 'reader' exists");
  const short = await run(["central", "user", "add", "shorty"], "short\n");
  expect(short.code).toBe(64);
  expect(short.stderr).toContain("at least 10 characters");
  const none = await run(["central", "user", "add", "nobody"], "");
  expect(none.code).toBe(64);
  expect(none.stderr).toContain("no password");
  const role = await run(["central", "user", "add", "x1", "--role", "root"], "long enough pw\n");
  expect(role.code).toBe(64);
  expect(role.stderr).toContain("--role: expected admin or viewer, got 'root'");

  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  try {
    const reader = await store.users.findUser("reader");
    expect(await verifyPassword("another password 2", reader!.passwordHash)).toBe(true);
    expect(reader!.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
    await store.users.createSession({
      idHash: "h",
      user: "reader",
      csrfToken: "c",
      createdAt: 1,
      expiresAt: Date.now() + 60_000,
    });
  } finally {
    await store.close();
  }
  const removed = await run(["central", "user", "remove", "reader"]);
  expect(removed.stdout).toBe("Removed dashboard user 'reader'; its sessions are ended\n");
  const again = await run(["central", "user", "remove", "reader"]);
  expect(again.code).toBe(64);
  const after = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  try {
    expect(await after.users.findSession("h", Date.now())).toBeNull();
  } finally {
    await after.close();
  }
}, 120_000);

it("limits a viewer and a viewer token to groups of SRVUTIL_GROUPS_FILE, refusing unknown names before anything is stored", async () => {
  const groupsFile = path.join(dir, "groups.json");
  writeFileSync(
    groupsFile,
    JSON.stringify({
      groups: [
        { name: "payments", servers: ["pay-*"], to: ["pay@example.com"] },
        { name: "db", servers: ["db-*"], to: ["db@example.com"] },
      ],
    }),
  );
  const withGroups = { ...env, SRVUTIL_GROUPS_FILE: groupsFile, SRVUTIL_REPORT_TO: "ops@example.com" };
  const saved = env;
  env = withGroups;
  try {
    const add = await run(
      ["central", "user", "add", "pay-viewer", "--groups", "payments,db"],
      "a long password 3\n",
    );
    expect(add.stderr).toBe("");
    expect(add.stdout).toBe("Added dashboard viewer 'pay-viewer' (sees groups payments, db)\n");
    const unknown = await run(
      ["central", "user", "add", "x2", "--groups", "payments,nope"],
      "a long password 3\n",
    );
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain(
      "unknown group 'nope': the groups file (SRVUTIL_GROUPS_FILE) has default, payments, db",
    );
    const admin = await run(
      ["central", "user", "add", "x3", "--role", "admin", "--groups", "db"],
      "a long password 3\n",
    );
    expect(admin.code).toBe(64);
    expect(admin.stderr).toContain("groups limit viewers only");
    expect((await run(["central", "user", "list"])).stdout).toMatch(/pay-viewer\s+viewer\s+payments,db/);

    const token = await run([
      "central",
      "token",
      "add",
      "pay-script",
      "--role",
      "viewer",
      "--groups",
      "payments",
    ]);
    expect(token.code).toBe(0);
    expect(token.stdout).toContain("Viewer token 'pay-script' for the read API, groups payments only");
    const badToken = await run(["central", "token", "add", "t9", "--role", "viewer", "--groups", "nope"]);
    expect(badToken.code).toBe(64);
    expect(badToken.stderr).toContain("unknown group 'nope'");
    const agent = await run(["central", "token", "add", "pay-01", "--groups", "payments"]);
    expect(agent.code).toBe(64);
    expect(agent.stderr).toContain("--groups applies to --role viewer only");
    expect((await run(["central", "token", "list"])).stdout).toMatch(
      /viewer\s+pay-script \(groups payments\)/,
    );

    const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
    try {
      expect((await store.users.findUser("pay-viewer"))?.groups).toEqual(["payments", "db"]);
      expect(await store.users.findUser("x2")).toBeNull();
      expect(await store.users.findUser("x3")).toBeNull();
      const viewers = await store.tokens.list("viewer");
      expect(viewers.find((t) => t.server === "pay-script")?.groups).toEqual(["payments"]);
      expect(viewers.map((t) => t.server)).not.toContain("t9");
    } finally {
      await store.close();
    }
  } finally {
    env = saved;
  }
}, 120_000);
