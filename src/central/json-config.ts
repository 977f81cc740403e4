/**
 * What the JSON config files of the central (SRVUTIL_SCRAPE_CONFIG,
 * SRVUTIL_ALERTS_CONFIG) share: reading and parsing the file into one
 * ConfigError, the place of a mistake as people write it
 * (`targets[2].url`), and secrets read from files.
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";

/** `targets[2].url` from zod's ["targets", 2, "url"]. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path)
    out += typeof part === "number" ? `[${part}]` : `${out === "" ? "" : "."}${String(part)}`;
  return out;
}

/** A secret or CA from its file; a problem (with its place) when it cannot be read or is empty. */
export function readFileValue(file: string, where: string, problems: string[], trim: boolean): string {
  try {
    const text = readFileSync(file, "utf8");
    const value = trim ? text.replace(/\r?\n$/, "") : text;
    if (value === "") problems.push(`${where}: ${file} is empty`);
    return value;
  } catch (err) {
    problems.push(`${where}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    return "";
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The parsed JSON of the file a setting names; a ConfigError naming the setting when it cannot be. */
export function readJsonFile(setting: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${setting} (${file}): not JSON: ${(err as Error).message}`);
  }
}
