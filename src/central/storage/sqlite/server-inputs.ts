import type Database from "better-sqlite3";
import {
  type InputObservation,
  observationParams,
  SERVER_INPUT_COLUMNS,
  SERVER_INPUT_PRUNE,
  SERVER_INPUT_UPSERT,
  type ServerInput,
  type ServerInputRow,
  type ServerInputStore,
  serverInputFromRow,
  serverInputsTable,
} from "../server-input-store.js";
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "what feeds each server: input, agent identity, last upload error",
    sql: `${serverInputsTable("INTEGER")};`,
  },
];

/** Server inputs on SQLite, in their own migration component ("server_inputs"). */
export class SqliteServerInputStore implements ServerInputStore {
  private st: ReturnType<typeof prepare> | null = null;

  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "server_inputs", MIGRATIONS);
    this.st = prepare(this.db);
  }

  private get s(): ReturnType<typeof prepare> {
    this.st ??= prepare(this.db);
    return this.st;
  }

  async record(observation: InputObservation): Promise<void> {
    this.s.upsert.run(...observationParams(observation));
  }

  async list(): Promise<ServerInput[]> {
    return (this.s.list.all() as ServerInputRow[]).map(serverInputFromRow);
  }

  async pruneUnknown(seenBefore: number): Promise<number> {
    return this.db.prepare(fromPg(SERVER_INPUT_PRUNE)).run(seenBefore).changes;
  }
}

function prepare(db: Database.Database) {
  return {
    upsert: db.prepare(fromPg(SERVER_INPUT_UPSERT)),
    list: db.prepare(`SELECT ${SERVER_INPUT_COLUMNS} FROM server_inputs ORDER BY server`),
  };
}
