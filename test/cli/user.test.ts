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
  expect(list.stdout.split("\n")[0]).toMatch(/^NAME\s+ROLE\s+ADDED$/);
  expect(list.stdout).toMatch(/ops-admin\s+admin/);
  expect(list.stdout).toMatch(/reader\s+viewer/);

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
