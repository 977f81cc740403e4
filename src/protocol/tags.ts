/**
 * Server tags (`env=prod`, `team=payments`): what an agent declares in its
 * config and sends with each upload in the X-Srvutil-Tags header, and what
 * the central stores and groups servers by. Shared by the agent and the
 * central, so both validate them alike; it imports nothing, because the
 * agent bundle must stay free of the central's code.
 *
 * Keys and values are spelled like server names (letters, digits, . _ -,
 * starting with a letter or digit): they appear in URLs, group selectors and
 * CSV cells, where anything else would need quoting.
 */

/** The upload request header carrying the agent's tags (CSV v1 itself stays unchanged). */
export const TAGS_HEADER = "x-srvutil-tags";
/** Most tags one server may carry from one source. */
export const MAX_TAGS = 32;
/** Longest key, and longest value. */
export const TAG_KEY_MAX = 64;
export const TAG_VALUE_MAX = 128;

const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Tags as key → value; keys are unique, so a key has one value. */
export type Tags = Readonly<Record<string, string>>;

/** Why `key` is not a valid tag key, or null. */
export function tagKeyProblem(key: string): string | null {
  if (key.length > TAG_KEY_MAX || !KEY.test(key)) {
    return `tag key '${clip(key)}' must be 1-${TAG_KEY_MAX} characters of A-Z a-z 0-9 . _ - starting with a letter or digit`;
  }
  return null;
}

/** Why `value` is not a valid value of tag `key`, or null. */
export function tagValueProblem(key: string, value: string): string | null {
  if (value.length > TAG_VALUE_MAX || !VALUE.test(value)) {
    return `tag ${clip(key)}: value '${clip(value)}' must be 1-${TAG_VALUE_MAX} characters of A-Z a-z 0-9 . _ - starting with a letter or digit`;
  }
  return null;
}

/** Every problem of a set of tags (keys, values, count); empty when valid. */
export function tagsProblems(entries: readonly (readonly [string, string])[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [key, value] of entries) {
    const p = tagKeyProblem(key) ?? tagValueProblem(key, value);
    if (p !== null) problems.push(p);
    else if (seen.has(key)) problems.push(`tag ${key} is given twice`);
    seen.add(key);
  }
  if (entries.length > MAX_TAGS) problems.push(`${entries.length} tags given; at most ${MAX_TAGS}`);
  return problems;
}

/**
 * Parses `env=prod,team=payments` (the header's and SRVUTIL_TAGS' form;
 * spaces around items are ignored, an empty text is no tags). Returns the
 * tags, or every problem found.
 */
export function parseTagList(text: string): { tags: Tags; problems: string[] } {
  const entries: [string, string][] = [];
  const problems: string[] = [];
  const items = text.trim() === "" ? [] : text.split(",");
  for (const raw of items) {
    const item = raw.trim();
    const eq = item.indexOf("=");
    if (eq < 0) {
      problems.push(`'${clip(item)}' is not key=value`);
      continue;
    }
    entries.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
  }
  problems.push(...tagsProblems(entries));
  return { tags: problems.length === 0 ? Object.fromEntries(entries) : {}, problems };
}

/** `env=prod,team=payments`, keys sorted, so one set always reads the same. */
export function formatTagList(tags: Tags): string {
  return Object.keys(tags)
    .sort()
    .map((k) => `${k}=${tags[k]}`)
    .join(",");
}

function clip(s: string): string {
  // Shown back in messages: bounded, and no control characters from a header.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > 40 ? `${clean.slice(0, 39)}…` : clean;
}
