import type pg from "pg";
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
import { type Migration, runPgMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "what feeds each server: input, agent identity, last upload error",
    sql: `${serverInputsTable("BIGINT")};`,
  },
];

/** Server inputs on PostgreSQL, in their own migration component ("server_inputs"). */
export class PgServerInputStore implements ServerInputStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "server_inputs", MIGRATIONS);
  }

  async record(observation: InputObservation): Promise<void> {
    await this.pool.query(SERVER_INPUT_UPSERT, observationParams(observation));
  }

  async list(): Promise<ServerInput[]> {
    const r = await this.pool.query<ServerInputRow>(
      `SELECT ${SERVER_INPUT_COLUMNS} FROM server_inputs ORDER BY server COLLATE "C"`,
    );
    return r.rows.map(serverInputFromRow);
  }

  async pruneUnknown(seenBefore: number): Promise<number> {
    return (await this.pool.query(SERVER_INPUT_PRUNE, [seenBefore])).rowCount ?? 0;
  }
}
