import { ConfigError } from "../../errors.js";

/**
 * The database was migrated by a newer srvutil than the one starting now.
 * Migrations only go forward (docs/upgrading.md): an older version cannot
 * know what the newer one changed, so it refuses to touch the database.
 */
export class SchemaTooNewError extends ConfigError {}

/**
 * Throws SchemaTooNewError when `applied` holds a version of `component`
 * that this build does not know. Called before any migration runs.
 */
export function refuseNewerSchema(
  component: string,
  applied: Iterable<number>,
  known: readonly { version: number }[],
): void {
  const newestKnown = Math.max(0, ...known.map((m) => m.version));
  const newestApplied = Math.max(0, ...applied);
  if (newestApplied > newestKnown) {
    throw new SchemaTooNewError(
      `the database's ${component} schema is at version ${newestApplied}, written by a newer srvutil; ` +
        `this one knows up to version ${newestKnown}. Downgrades are not supported: run the newer srvutil, ` +
        "or restore the backup taken before the upgrade (docs/upgrading.md)",
    );
  }
}
