import { readFile } from "node:fs/promises";
import { AutomationLog } from "../central/automation-log.js";
import type { Storage } from "../central/storage/store.js";
import { InputError } from "../errors.js";
import { centralConfigFromEnv } from "./central-config.js";

// What `srvutil central user …` runs (wired in ./central.ts, loaded only when it runs).

export class UserCommandError extends InputError {}

function parseRole(role: string): "admin" | "viewer" {
  if (role === "admin" || role === "viewer") return role;
  throw new UserCommandError(`--role: expected admin or viewer, got '${role}'`);
}

/** The password from --password-file, else the first line of stdin (never from an argument: ps would show it). */
async function readPassword(file: string | undefined): Promise<string> {
  let text: string;
  if (file !== undefined) {
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new UserCommandError(`--password-file: cannot read ${file}: ${(err as Error).message}`);
    }
  } else {
    if (process.stdin.isTTY) process.stderr.write("Password (input is shown; end with Enter): ");
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) {
      chunks.push(c as Buffer);
      if (process.stdin.isTTY && Buffer.concat(chunks).includes(10)) break;
    }
    text = Buffer.concat(chunks).toString("utf8");
  }
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password === "") {
    throw new UserCommandError(
      "no password: pipe it on stdin (printf '%s\\n' \"$PW\" | srvutil central user add …) or use --password-file",
    );
  }
  return password;
}

async function withStore(fn: (store: Storage, log: AutomationLog) => Promise<void>): Promise<void> {
  const config = centralConfigFromEnv();
  const { openStorage } = await import("../central/storage/open.js");
  const store = await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous });
  try {
    await fn(store, new AutomationLog(config.paths.automationLog, config.logRotation));
  } finally {
    await store.close();
  }
}

export async function userAddCommand(
  name: string,
  opts: { role: string; passwordFile?: string },
): Promise<void> {
  const role = parseRole(opts.role);
  const { addUser } = await import("../central/dashboard/users.js");
  const { checkUserName } = await import("../central/dashboard/password.js");
  checkUserName(name);
  const password = await readPassword(opts.passwordFile);
  await withStore(async (store, log) => {
    await addUser(store.users, { name, role, password, now: Date.now() });
    log.info("user added", { name, role });
    process.stdout.write(`Added dashboard ${role} '${name}'\n`);
  });
}

export async function userListCommand(): Promise<void> {
  await withStore(async (store) => {
    const users = await store.users.listUsers();
    const rows = [
      ["NAME", "ROLE", "ADDED"],
      ...users.map((u) => [u.name, u.role, new Date(u.createdAt).toISOString()]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    process.stdout.write(
      rows
        .map((r) =>
          r
            .map((c, i) => c.padEnd(widths[i]!))
            .join("  ")
            .trimEnd(),
        )
        .join("\n") + "\n",
    );
  });
}

export async function userRemoveCommand(name: string): Promise<void> {
  await withStore(async (store, log) => {
    if (!(await store.users.removeUser(name))) {
      throw new UserCommandError(`no dashboard user '${name}' (see \`srvutil central user list\`)`);
    }
    log.info("user removed", { name });
    process.stdout.write(`Removed dashboard user '${name}'; its sessions are ended\n`);
  });
}
