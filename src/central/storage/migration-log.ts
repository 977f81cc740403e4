/**
 * Which migrations this process applied, per database handle (a pg pool or a
 * SQLite connection), so `central migrate` can report exactly what *it* did
 * even when another instance migrates the same database at the same moment
 * (a before/after diff of schema_migrations would claim the other's work).
 * Both runners (./postgres/migrate.ts, ./sqlite/migrate.ts) record here.
 */
export interface AppliedMigration {
  component: string;
  version: number;
  description: string;
}

const applied = new WeakMap<object, AppliedMigration[]>();

export function recordAppliedMigration(handle: object, migration: AppliedMigration): void {
  const list = applied.get(handle);
  if (list === undefined) applied.set(handle, [migration]);
  else list.push(migration);
}

export function appliedMigrationsOf(handle: object): readonly AppliedMigration[] {
  return applied.get(handle) ?? [];
}
