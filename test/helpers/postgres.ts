import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * The one way every PostgreSQL test finds its server:
 *
 * 1. `SRVUTIL_TEST_PG_URL`, when set, names it. If it cannot be reached the
 *    lookup throws, so every test file that needs it fails loudly: a configured
 *    prerequisite that is not there is an error, never a skip.
 * 2. Otherwise the local server at 127.0.0.1:5432 (user postgres, trust auth,
 *    database postgres), when it answers.
 * 3. Otherwise there is no server: the result carries a `skipReason`, and the
 *    tests call `ctx.skip(reason)` so the summary names them and says why (CI
 *    fails on any skip; .ci/run always sets the URL).
 *
 * Tests never share tables: each harness gets its own schema (`createTestSchema`),
 * so the parallel vitest forks cannot collide.
 */
export type TestPostgres =
  | { url: string; source: "SRVUTIL_TEST_PG_URL" | "local"; skipReason?: undefined }
  | { url?: undefined; source?: undefined; skipReason: string };

export const LOCAL_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres";

let resolved: Promise<TestPostgres> | undefined;

/** Resolves once per test process; await it at the top of a test file. */
export function findTestPostgres(env: NodeJS.ProcessEnv = process.env): Promise<TestPostgres> {
  resolved ??= resolvePostgres(env);
  return resolved;
}

async function resolvePostgres(env: NodeJS.ProcessEnv): Promise<TestPostgres> {
  const configured = env.SRVUTIL_TEST_PG_URL;
  if (configured !== undefined && configured !== "") {
    const problem = await connectProblem(configured);
    if (problem !== null) {
      throw new Error(
        `SRVUTIL_TEST_PG_URL=${redactUrl(configured)} is set but PostgreSQL cannot be reached: ${problem}`,
      );
    }
    return { url: configured, source: "SRVUTIL_TEST_PG_URL" };
  }
  const problem = await connectProblem(LOCAL_PG_URL);
  if (problem === null) return { url: LOCAL_PG_URL, source: "local" };
  return {
    skipReason: `no PostgreSQL: SRVUTIL_TEST_PG_URL is unset and ${redactUrl(LOCAL_PG_URL)} does not answer (${problem})`,
  };
}

async function connectProblem(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (err) {
    const e = err as Error & { code?: string };
    return e.code !== undefined ? `${e.code}: ${e.message}` : e.message;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The URL with any password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

export interface TestSchema {
  /** A fresh schema name, unique to this process and call. */
  schema: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/** Creates a throwaway schema on `url`; pass `schema` to the store and `drop()` when done. */
export async function createTestSchema(url: string, prefix = "srvutil_test"): Promise<TestSchema> {
  const schema = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  await adminQuery(url, `CREATE SCHEMA ${schema}`);
  return { schema, drop: () => adminQuery(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

/** One statement on its own connection (schemas, databases: what a pool's search_path must not see). */
export async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * For a test or `beforeEach` context: skips with the reason when there is no
 * server, else returns its URL.
 */
export function requirePostgres(ctx: { skip: (note?: string) => never }, found: TestPostgres): string {
  if (found.url === undefined) ctx.skip(found.skipReason);
  return found.url;
}
