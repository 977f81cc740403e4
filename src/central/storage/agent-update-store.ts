/**
 * The stored auto-update policy (docs/agent.md, "Self-update"): a fleet
 * setting and one setting per group, each on, off or unset, with who set
 * it and when. Unset keeps the row (enabled NULL), so "back to the default"
 * is recorded like any other change. How a server's decision follows from
 * it is ../agent-update-policy.ts. SQLite: ./sqlite/agent-updates.ts;
 * PostgreSQL: ./postgres/agent-updates.ts; the SQL below is shared.
 */
export interface AgentUpdateStore {
  /** Every stored setting: the fleet's (group null) and each group's, groups by name. */
  list(): Promise<AutoUpdateSetting[]>;
  /** Stores one setting (insert or replace); `enabled` null puts it back to the default. */
  set(setting: AutoUpdateSetting): Promise<void>;
}

export interface AutoUpdateSetting {
  /** null: the fleet setting; else a group of the groups file. */
  group: string | null;
  /** true on, false off, null unset (the fleet: SRVUTIL_AGENT_AUTO_UPDATE; a group: the fleet's). */
  enabled: boolean | null;
  /** The dashboard user or `cli` (with the OS user) that made the change. */
  changedBy: string;
  /** epoch ms. */
  changedAt: number;
}

/** The row of both backends: scope 'fleet' (name '') or 'group'; enabled 0/1/NULL on both. */
export interface AutoUpdateRow {
  scope: "fleet" | "group";
  name: string;
  enabled: number | null;
  changed_by: string;
  changed_at: number | string;
}

/** The table, with the backend's epoch-ms integer type. */
export function agentUpdateTable(int: "INTEGER" | "BIGINT"): string {
  return `CREATE TABLE agent_update_policy (
    scope TEXT NOT NULL CHECK (scope IN ('fleet', 'group')),
    name TEXT NOT NULL CHECK (length(name) <= 64 AND (scope = 'group' OR name = '')),
    enabled INTEGER CHECK (enabled IN (0, 1)),
    changed_by TEXT NOT NULL CHECK (length(changed_by) <= 200),
    changed_at ${int} NOT NULL,
    PRIMARY KEY (scope, name)
  )`;
}

/** `$1`…`$5` placeholders, each once and in order (SQLite: fromPg). */
export const AGENT_UPDATE_UPSERT = `INSERT INTO agent_update_policy (scope, name, enabled, changed_by, changed_at)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (scope, name) DO UPDATE SET
    enabled = excluded.enabled, changed_by = excluded.changed_by, changed_at = excluded.changed_at`;

/** Fleet first, then the groups by name (byte order on both backends). */
export const AGENT_UPDATE_LIST = (collate: string) =>
  `SELECT scope, name, enabled, changed_by, changed_at FROM agent_update_policy
   ORDER BY scope, name${collate}`;

export function settingParams(s: AutoUpdateSetting): (string | number | null)[] {
  return [
    s.group === null ? "fleet" : "group",
    s.group ?? "",
    s.enabled === null ? null : s.enabled ? 1 : 0,
    s.changedBy.slice(0, 200),
    s.changedAt,
  ];
}

export function settingFromRow(r: AutoUpdateRow): AutoUpdateSetting {
  return {
    group: r.scope === "fleet" ? null : r.name,
    enabled: r.enabled === null ? null : Number(r.enabled) === 1,
    changedBy: r.changed_by,
    changedAt: Number(r.changed_at),
  };
}
