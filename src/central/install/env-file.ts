import { InputError } from "../../errors.js";

/**
 * The central's settings file: one `KEY=VALUE` per line, `#` comments, values
 * optionally in double quotes with `\"` and `\\` escapes. This is the subset
 * of systemd's EnvironmentFile= syntax that systemd, `central serve
 * --settings` (launchd, Task Scheduler) and a shell's `set -a; . FILE` read
 * the same way, so one file serves every platform.
 */

export function parseEnvFile(text: string, name = "env file"): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m === null)
      throw new InputError(`${name}, line ${i + 1}: expected KEY=VALUE, got '${line.slice(0, 40)}'`);
    let value = m[2]!;
    if (value.startsWith('"')) {
      if (!/^"(?:[^"\\]|\\.)*"$/.test(value)) {
        throw new InputError(`${name}, line ${i + 1}: unterminated double quote`);
      }
      value = value.slice(1, -1).replace(/\\(.)/g, "$1");
    } else if (value.startsWith("'")) {
      if (!/^'[^']*'$/.test(value)) throw new InputError(`${name}, line ${i + 1}: unterminated single quote`);
      value = value.slice(1, -1);
    }
    out[m[1]!] = value;
  });
  return out;
}

/** One `KEY=VALUE` line, quoted when the value holds anything a shell or systemd would read differently. */
export function envLine(key: string, value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]*$/.test(value)) return `${key}=${value}`;
  // Single quotes keep every character as it is (Windows paths stay readable).
  if (!value.includes("'")) return `${key}='${value}'`;
  return `${key}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("$", "\\$").replaceAll("`", "\\`")}"`;
}
