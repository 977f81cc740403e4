import { InputError } from "../errors.js";
import { parseTagList, serverNameProblem, tagKeyProblem } from "../protocol/index.js";
import type { Storage } from "./storage/store.js";
import { TooManyTagsError } from "./storage/tag-store.js";

/** What an admin's edit of a server's central tags came to. */
export interface TagEditResult {
  server: string;
  /** False when the server already had exactly these central tags (nothing written). */
  changed: boolean;
}

/**
 * Sets (`team=payments`) and removes (`team`) central tags of one server:
 * `srvutil central tags set|unset` and the server page's admin form. The
 * central's tags win over the agent's; removing one lets the agent's value
 * (if any) show again. Every problem of the input is named in one
 * InputError (SRVUTIL_E_BAD_TAGS), and nothing is written then.
 */
export async function editCentralTags(
  store: Storage,
  server: string,
  edit: { set: readonly string[]; unset: readonly string[] },
  at: number,
): Promise<TagEditResult> {
  const problems: string[] = [];
  const nameProblem = serverNameProblem(server);
  if (nameProblem !== null) problems.push(nameProblem);
  const parsed = parseTagList(edit.set.join(","));
  problems.push(...parsed.problems);
  const unset = edit.unset.map((k) => k.trim()).filter((k) => k !== "");
  for (const k of unset) {
    const p = tagKeyProblem(k);
    if (p !== null) problems.push(p);
    else if (Object.hasOwn(parsed.tags, k)) problems.push(`tag ${k} is both set and unset`);
  }
  if (Object.keys(parsed.tags).length === 0 && unset.length === 0 && problems.length === 0) {
    problems.push("name at least one tag: key=value to set, key to unset");
  }
  if (problems.length > 0) throw new InputError(problems.join("; "), { reason: "bad_tags" });
  try {
    return { server, changed: await store.tags.edit(server, { set: parsed.tags, unset }, at) };
  } catch (err) {
    if (err instanceof TooManyTagsError) throw new InputError(err.message, { reason: "bad_tags" });
    throw err;
  }
}

/** Splits a form field or argument list of `a=b, c=d` / `a c` items. */
export function tagItems(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
