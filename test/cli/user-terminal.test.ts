import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { verifyPassword } from "../../src/central/dashboard/password.js";
import { openStorage } from "../../src/central/storage/open.js";
import { REPO_ROOT, srvutilCommand } from "../helpers/cli.js";

/**
 * `central user add` on a real terminal: util-linux `script` gives the CLI a
 * pseudo-terminal, and everything the terminal shows comes back on its
 * stdout. A password typed there must not appear in it.
 */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-user-tty-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs `srvutil ARGS` on a pseudo-terminal, typing each answer once its prompt is shown. */
function onTerminal(
  args: string[],
  answers: [prompt: string, typed: string][],
): Promise<{ code: number | null; screen: string }> {
  const [cmd, argv] = srvutilCommand(args);
  const child = spawn("script", ["-q", "-e", "-c", [cmd, ...argv].map(quote).join(" "), "/dev/null"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", SRVUTIL_DATA_DIR: dir, TERM: "dumb" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let screen = "";
  let searchFrom = 0;
  const pending = [...answers];
  child.stdout!.on("data", (d: Buffer) => {
    screen += d.toString("utf8");
    // Each answer is typed once its prompt shows after the previous one: typed earlier, the
    // terminal itself would echo it before the CLI turned echo off.
    const next = pending[0];
    const at = next === undefined ? -1 : screen.indexOf(next[0], searchFrom);
    if (next !== undefined && at >= 0) {
      searchFrom = at + next[0].length;
      pending.shift();
      child.stdin!.write(next[1]);
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

it("asks for the password twice without echoing it, and adds the user", async () => {
  const password = "tty-secret-Passw0rd";
  const r = await onTerminal(
    ["central", "user", "add", "tty-admin", "--role", "admin"],
    [
      ["Password (not shown): ", `${password}\r`],
      ["Password again: ", `${password}\r`],
    ],
  );
  expect(r.screen).toContain("Password (not shown): ");
  expect(r.screen).toContain("Added dashboard admin 'tty-admin'");
  expect(r.screen).not.toContain(password);
  expect(r.screen).not.toContain("tty-secret");
  expect(r.code).toBe(0);
  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  try {
    const user = await store.users.findUser("tty-admin");
    expect(user?.role).toBe("admin");
    expect(await verifyPassword(password, user!.passwordHash)).toBe(true);
  } finally {
    await store.close();
  }
});

it("refuses two passwords that differ, adding nobody", async () => {
  const r = await onTerminal(
    ["central", "user", "add", "tty-typo"],
    [
      ["Password (not shown): ", "first-Passw0rd-1\r"],
      ["Password again: ", "first-Passw0rd-2\r"],
    ],
  );
  expect(r.screen).toContain("the two passwords differ; nothing was added");
  expect(r.screen).not.toContain("first-Passw0rd");
  expect(r.code).toBe(64);
});
