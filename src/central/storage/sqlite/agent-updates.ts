import type Database from "better-sqlite3";
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
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "auto-update policy: the fleet's and each group's setting, who set it and when",
    sql: `${agentUpdateTable("INTEGER")};`,
  },
];

/** The auto-update policy on SQLite, its own migration component ("agent_updates"). */
export class SqliteAgentUpdateStore implements AgentUpdateStore {
  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "agent_updates", MIGRATIONS);
  }

  async list(): Promise<AutoUpdateSetting[]> {
    return (this.db.prepare(AGENT_UPDATE_LIST("")).all() as AutoUpdateRow[]).map(settingFromRow);
  }

  async set(setting: AutoUpdateSetting): Promise<void> {
    this.db.prepare(fromPg(AGENT_UPDATE_UPSERT)).run(...settingParams(setting));
  }
}
