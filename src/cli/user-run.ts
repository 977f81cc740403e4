import { readFile } from "node:fs/promises";
import { AutomationLog } from "../central/automation-log.js";
import type { Storage } from "../central/storage/store.js";
import { usageError } from "../errors.js";
import { centralConfigFromEnv } from "./central-config.js";

// What `srvutil central user …` runs (wired in ./central.ts, loaded only when it runs).

function parseRole(role: string): "admin" | "viewer" {
  if (role === "admin" || role === "viewer") return role;
  throw usageError(`--role: expected admin or viewer, got '${role}'`);
}

/** The password from --password-file, else the first line of stdin (never from an argument: ps would show it). */
async function readPassword(file: string | undefined): Promise<string> {
  let text: string;
  if (file !== undefined) {
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw usageError(`--password-file: cannot read ${file}: ${(err as Error).message}`);
    }
  } else {
    if (process.stdin.isTTY) return readPasswordFromTerminal();
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString("utf8");
  }
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password === "") {
    throw usageError(
      "no password: pipe it on stdin (printf '%s\\n' \"$PW\" | srvutil central user add …) or use --password-file",
    );
  }
  return password;
}

/**
 * On a terminal: the password typed with echo off (as passwd and sudo do),
 * twice, so a typo that cannot be seen is caught. Scripts pipe it on stdin.
 * Echo goes off before the first prompt is shown and comes back after the
 * second answer, so nothing typed at a prompt is ever echoed.
 */
async function readPasswordFromTerminal(): Promise<string> {
  const input = process.stdin;
  input.setRawMode(true);
  input.resume();
  try {
    const first = await readHiddenLine("Password (not shown): ");
    if (first === "") {
      throw usageError("no password: type one, or use --password-file");
    }
    const again = await readHiddenLine("Password again: ");
    if (again !== first) throw usageError("the two passwords differ; nothing was added");
    return first;
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}

/** One line from the terminal, already in raw mode (nothing echoed); Ctrl-C aborts, Backspace deletes. */
function readHiddenLine(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = "";
    const finish = (error: Error | null) => {
      input.removeListener("data", onData);
      process.stderr.write("\n");
      if (error === null) resolve(line);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return finish(null);
        if (ch === "\u0003") return finish(usageError("cancelled (Ctrl-C); nothing was added"));
        if (ch === "\u0004") return finish(null); // Ctrl-D ends the line as Enter does
        if (ch === "\u007f" || ch === "\b") line = [...line].slice(0, -1).join("");
        else if (ch >= " ") line += ch;
      }
    };
    input.on("data", onData);
  });
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

/** The groups of SRVUTIL_GROUPS_FILE (or the default group alone), which --groups names must be among. */
export async function configuredGroups() {
  const config = centralConfigFromEnv();
  const { loadDeliveryGroups } = await import("../central/delivery/groups.js");
  return loadDeliveryGroups(config.delivery.groupsFile, config.reportTo);
}

export async function userAddCommand(
  name: string,
  opts: { role: string; passwordFile?: string; groups?: string },
): Promise<void> {
  const role = parseRole(opts.role);
  const { addUser } = await import("../central/dashboard/users.js");
  const { checkUserName } = await import("../central/dashboard/password.js");
  const { describeScope, parseScopeGroups } = await import("../central/auth/principal.js");
  checkUserName(name);
  // Checked before the password is asked for: a typo in a group name costs no typing.
  const groups =
    opts.groups === undefined ? null : parseScopeGroups(opts.groups, role, await configuredGroups());
  if (opts.groups !== undefined && groups === null) throw usageError("--groups: name at least one group");
  const password = await readPassword(opts.passwordFile);
  await withStore(async (store, log) => {
    await addUser(store.users, { name, role, groups, password, now: Date.now() });
    log.info("user added", { name, role, scope: describeScope(groups) });
    process.stdout.write(
      `Added dashboard ${role} '${name}'${groups === null ? "" : ` (sees ${describeScope(groups)})`}\n`,
    );
  });
}

export async function userListCommand(): Promise<void> {
  await withStore(async (store) => {
    const users = await store.users.listUsers();
    const rows = [
      ["NAME", "ROLE", "SEES", "ADDED"],
      ...users.map((u) => [
        u.name,
        u.role,
        u.groups === null ? "all servers" : u.groups.join(","),
        new Date(u.createdAt).toISOString(),
      ]),
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
      throw usageError(`no dashboard user '${name}' (see \`srvutil central user list\`)`);
    }
    log.info("user removed", { name });
    process.stdout.write(`Removed dashboard user '${name}'; its sessions are ended\n`);
  });
}
