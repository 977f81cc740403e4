import { parseTagList, type Tags, tagsProblems } from "../protocol/tags.js";
import { AgentConfigError } from "./errors.js";

/**
 * The agent's tags (docs/agent.md, "Tags"): SRVUTIL_TAGS (`env=prod,team=payments`)
 * when set, else agent.json's `tags` object. The variable replaces the file's
 * set as a whole: one set, one source, so what the central receives is
 * exactly what one place says. Every bad tag is named in one AgentConfigError.
 */
export function readTags(envText: string | undefined, fileValue: unknown, where: string): Tags {
  if (envText !== undefined && envText.trim() !== "") {
    const parsed = parseTagList(envText);
    if (parsed.problems.length > 0)
      throw new AgentConfigError(parsed.problems.map((p) => `SRVUTIL_TAGS: ${p}`).join("; "));
    return parsed.tags;
  }
  if (fileValue === undefined || fileValue === null) return {};
  if (typeof fileValue !== "object" || Array.isArray(fileValue))
    throw new AgentConfigError(`${where}: tags must be an object like {"env": "prod", "team": "payments"}`);
  const entries: [string, string][] = [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(fileValue)) {
    if (typeof value !== "string") problems.push(`${where}: tags.${key} must be a string`);
    else entries.push([key, value]);
  }
  problems.push(...tagsProblems(entries).map((p) => `${where}: tags: ${p}`));
  if (problems.length > 0) throw new AgentConfigError(problems.join("; "));
  return Object.fromEntries(entries);
}
