import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "../../errors.js";

/** The groups file is missing or malformed; the message names the file and the field. */
export class GroupsConfigError extends ConfigError {}

export interface Recipients {
  to: string[];
  cc: string[];
  bcc: string[];
}

/** A set of servers and who gets their weekly report. */
export interface DeliveryGroup {
  name: string;
  recipients: Recipients;
  /** Server name globs (`*`, `?`), case-insensitive; empty for the default group (the whole fleet). */
  servers: string[];
  /** True when this group's report covers `server`. */
  includes(server: string): boolean;
}

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
            servers: z.array(glob).min(1, 'list at least one server glob, e.g. ["web-*"]'),
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

function group(name: string, servers: string[], recipients: Recipients): DeliveryGroup {
  const patterns = servers.map(globToRegExp);
  return {
    name,
    servers,
    recipients,
    includes: (server) => servers.length === 0 || patterns.some((p) => p.test(server)),
  };
}

/**
 * The groups that get a weekly report. Without a groups file: just the
 * default group (whole fleet) to SRVUTIL_REPORT_TO. The file format is in
 * docs/delivery.md.
 */
export function loadDeliveryGroups(file: string | null, reportTo: readonly string[]): DeliveryGroup[] {
  if (file === null) return [group(DEFAULT_GROUP, [], { to: [...reportTo], cc: [], bcc: [] })];
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
    out.push(
      group(DEFAULT_GROUP, [], { to: def?.to ?? [...reportTo], cc: def?.cc ?? [], bcc: def?.bcc ?? [] }),
    );
  }
  const seen = new Set<string>();
  for (const g of parsed.data.groups) {
    if (seen.has(g.name)) throw new GroupsConfigError(`${source}: group "${g.name}" is defined twice`);
    seen.add(g.name);
    out.push(group(g.name, g.servers, { to: g.to, cc: g.cc, bcc: g.bcc }));
  }
  return out;
}

export function hasRecipients(r: Recipients): boolean {
  return r.to.length + r.cc.length + r.bcc.length > 0;
}
