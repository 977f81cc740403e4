import type pg from "pg";
import {
  AGENT_UPDATE_LIST,
  AGENT_UPDATE_UPSERT,
  type AgentUpdateStore,
  type AutoUpdateRow,
  type AutoUpdateSetting,
  agentUpdateTable,
  settingFromRow,
  settingParams,
} from "../agent-update-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "auto-update policy: the fleet's and each group's setting, who set it and when",
    sql: `${agentUpdateTable("BIGINT")};`,
  },
];

/** The auto-update policy on PostgreSQL, its own migration component ("agent_updates"). */
export class PgAgentUpdateStore implements AgentUpdateStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "agent_updates", MIGRATIONS);
  }

  async list(): Promise<AutoUpdateSetting[]> {
    const r = await this.pool.query<AutoUpdateRow>(AGENT_UPDATE_LIST(' COLLATE "C"'));
    return r.rows.map(settingFromRow);
  }

  async set(setting: AutoUpdateSetting): Promise<void> {
    await this.pool.query(AGENT_UPDATE_UPSERT, settingParams(setting));
  }
}
