import type pg from "pg";
import { inTransaction } from "./transaction.js";

/**
 * Runs `fn` with PostgreSQL's JIT compiler off. The planner cannot tell how
 * many hours a parameterized range holds, so short primary-key reads (a
 * server's year folded into days, the fleet's last 24 hours) are costed at
 * hundreds of thousands and pass jit_above_cost: compiling then costs more
 * than the query (measured: 10–500 ms of JIT on 20–50 ms of execution).
 *
 * On a pool: one read-only transaction with SET LOCAL. On a client already
 * in a transaction (a refresh, a fill under locks): the setting is changed
 * for `fn` and put back afterwards, so the caller's other statements keep
 * theirs. A client outside a transaction is not expected here.
 */
export async function withoutJit<T>(
  db: pg.Pool | pg.ClientBase,
  fn: (client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  if (isPool(db)) {
    return inTransaction(db, async (client) => {
      await client.query("SET LOCAL jit = off");
      return fn(client);
    });
  }
  const before = (
    await db.query<{ jit: string }>("SELECT current_setting('jit') AS jit, set_config('jit', 'off', true)")
  ).rows[0]!.jit;
  try {
    return await fn(db);
  } finally {
    await db.query("SELECT set_config('jit', $1, true)", [before]);
  }
}

function isPool(db: pg.Pool | pg.ClientBase): db is pg.Pool {
  return "totalCount" in db;
}
