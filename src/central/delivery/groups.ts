import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "../../errors.js";
import { parseTagList, type Tags, tagsProblems } from "../../protocol/tags.js";

/** The groups file is missing or malformed; the message names the file and the field. */
export class GroupsConfigError extends ConfigError {}

export interface Recipients {
  to: string[];
  cc: string[];
  bcc: string[];
}

/**
 * A set of servers and who gets their weekly report. A group selects by
 * name globs, by tags, or both; every selector given must match (AND).
 */
export interface DeliveryGroup {
  name: string;
  recipients: Recipients;
  /** True for the default group: the whole fleet, whatever the names and tags. */
  wholeFleet: boolean;
  /**
   * Server name globs (`*`, `?`), case-insensitive, for display: `servers`,
   * then the `name=` terms of `select`. Each of the two lists is a selector
   * of its own (one glob of it must match). Empty: names are not a selector.
   */
  servers: string[];
  /** Tags a server must all carry (effective tags: the central's win over the agent's); empty: tags are not a selector. */
  tags: Tags;
  /**
   * True when this group's report covers `server`, whose effective tags are
   * `tags` (store.tags: tagValues of the current tags, or tagsDuring of a
   * report's week). A group without tag selectors ignores `tags`.
   */
  includes(server: string, tags: Tags): boolean;
}

/** No tags: for a server without any, or a caller that checks only name-glob groups. */
export const NO_TAGS: Tags = Object.freeze({});

export const DEFAULT_GROUP = "default";
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const email = z.string().regex(/^[^\s@<>,]+@[^\s@<>,]+$/, "expected an email address like ops@example.com");
const recipientList = z.array(email).default([]);
const glob = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._*?-]+$/, "a server glob may use letters, digits, . _ - and the wildcards * ?");

const GroupsFile = z
  .object({
    default: z
      .object({
        enabled: z.boolean().default(true),
        to: z.array(email).optional(),
        cc: recipientList,
        bcc: recipientList,
      })
      .strict()
      .optional(),
    groups: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(
                GROUP_NAME,
                "group names use letters, digits, . _ - (max 64), starting with a letter or digit",
              )
              .refine((n) => n !== DEFAULT_GROUP, `"${DEFAULT_GROUP}" is reserved for the whole-fleet group`),
            servers: z.array(glob).min(1, 'list at least one server glob, e.g. ["web-*"]').optional(),
            select: z.string().max(2000).optional(),
            tags: z.record(z.string(), z.string()).optional(),
            to: z.array(email).min(1, "a group needs at least one 'to' recipient"),
            cc: recipientList,
            bcc: recipientList,
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

/** Compiles `web-*` / `db-0?` to an anchored, case-insensitive RegExp. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.\\^$+()[\]{}|-]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`, "i");
}

function wholeFleet(recipients: Recipients): DeliveryGroup {
  return {
    name: DEFAULT_GROUP,
    wholeFleet: true,
    servers: [],
    tags: {},
    recipients,
    includes: () => true,
  };
}

function group(
  name: string,
  selectors: { servers: string[]; names: string[]; tags: Tags },
  recipients: Recipients,
): DeliveryGroup {
  const byServers = selectors.servers.map(globToRegExp);
  const byNames = selectors.names.map(globToRegExp);
  const tagEntries = Object.entries(selectors.tags);
  return {
    name,
    wholeFleet: false,
    servers: [...selectors.servers, ...selectors.names],
    tags: selectors.tags,
    recipients,
    includes: (server, tags) =>
      (byServers.length === 0 || byServers.some((p) => p.test(server))) &&
      (byNames.length === 0 || byNames.some((p) => p.test(server))) &&
      tagEntries.every(([k, v]) => Object.hasOwn(tags, k) && tags[k] === v),
  };
}

/**
 * A group's `select` (`team=payments,env=prod,name=db-*`) and `tags`
 * ({"team": "payments"}) as name globs and tags, or why not. `name=` terms
 * are globs; every other term is a tag that must match exactly.
 */
function selectors(
  g: {
    servers?: string[] | undefined;
    select?: string | undefined;
    tags?: Record<string, string> | undefined;
  },
  where: string,
): { servers: string[]; names: string[]; tags: Tags } {
  const names: string[] = [];
  const tags: [string, string][] = Object.entries(g.tags ?? {});
  if (g.select !== undefined) {
    const terms = g.select.split(",").map((t) => t.trim());
    const tagTerms: string[] = [];
    for (const t of terms) {
      if (/^name=/i.test(t)) {
        const pattern = t.slice(5).trim();
        if (!/^[A-Za-z0-9._*?-]{1,128}$/.test(pattern)) {
          throw new GroupsConfigError(
            `${where}.select: '${pattern.slice(0, 40)}' after name= must be a server glob of letters, digits, . _ - * ?`,
          );
        }
        names.push(pattern);
      } else tagTerms.push(t);
    }
    const parsed = parseTagList(tagTerms.join(","));
    if (parsed.problems.length > 0)
      throw new GroupsConfigError(`${where}.select: ${parsed.problems.join("; ")}`);
    for (const [k, v] of Object.entries(parsed.tags)) {
      if (tags.some(([tk, tv]) => tk === k && tv !== v)) {
        throw new GroupsConfigError(`${where}: tag ${k} is ${v} in select and another value in tags`);
      }
      if (!tags.some(([tk]) => tk === k)) tags.push([k, v]);
    }
  }
  const problems = tagsProblems(tags);
  if (problems.length > 0) throw new GroupsConfigError(`${where}.tags: ${problems.join("; ")}`);
  const servers = g.servers ?? [];
  if (servers.length === 0 && names.length === 0 && tags.length === 0) {
    throw new GroupsConfigError(
      `${where}: select servers by "servers" globs, "select" (e.g. "team=payments,env=prod" or "name=db-*"), or "tags"`,
    );
  }
  return { servers, names, tags: Object.fromEntries(tags) };
}

/**
 * The groups that get a weekly report. Without a groups file: just the
 * default group (whole fleet) to SRVUTIL_REPORT_TO. The file format is in
 * docs/delivery.md.
 */
export function loadDeliveryGroups(file: string | null, reportTo: readonly string[]): DeliveryGroup[] {
  if (file === null) return [wholeFleet({ to: [...reportTo], cc: [], bcc: [] })];
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    throw new GroupsConfigError(`SRVUTIL_GROUPS_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new GroupsConfigError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseDeliveryGroups(json, reportTo, file);
}

export function parseDeliveryGroups(
  json: unknown,
  reportTo: readonly string[],
  source = "groups file",
): DeliveryGroup[] {
  const parsed = GroupsFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    throw new GroupsConfigError(`${source}: ${where}: ${issue.message}`);
  }
  const out: DeliveryGroup[] = [];
  const def = parsed.data.default;
  if (def?.enabled !== false) {
    out.push(wholeFleet({ to: def?.to ?? [...reportTo], cc: def?.cc ?? [], bcc: def?.bcc ?? [] }));
  }
  const seen = new Set<string>();
  for (const [i, g] of parsed.data.groups.entries()) {
    if (seen.has(g.name)) throw new GroupsConfigError(`${source}: group "${g.name}" is defined twice`);
    seen.add(g.name);
    out.push(group(g.name, selectors(g, `${source}: groups.${i}`), { to: g.to, cc: g.cc, bcc: g.bcc }));
  }
  return out;
}

export function hasRecipients(r: Recipients): boolean {
  return r.to.length + r.cc.length + r.bcc.length > 0;
}
