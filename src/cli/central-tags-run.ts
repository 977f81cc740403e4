import { effectiveTags } from "../central/storage/tag-store.js";
import { editCentralTags } from "../central/tag-edits.js";
import { usageError } from "../errors.js";
import { formatTable, withStore } from "./central-run.js";

/**
 * What `srvutil central tags …` runs (wiring: ./central.ts, which loads this
 * module only when a tags command runs). docs/dashboard.md, "Tags".
 */

/** `tags set SERVER key=value…`: central tags, which win over the agent's. */
export async function tagsSetCommand(server: string, pairs: readonly string[]): Promise<void> {
  if (pairs.length === 0) throw usageError("name at least one key=value to set");
  await withStore(async (store) => {
    const r = await editCentralTags(store, server, { set: pairs, unset: [] }, Date.now());
    process.stdout.write(r.changed ? `Tags of ${server} set.\n` : `${server} already had these tags.\n`);
  });
}

/** `tags unset SERVER key…`: the central's value goes; the agent's (if any) shows again. */
export async function tagsUnsetCommand(server: string, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) throw usageError("name at least one key to unset");
  await withStore(async (store) => {
    const r = await editCentralTags(store, server, { set: [], unset: keys }, Date.now());
    process.stdout.write(
      r.changed ? `Tags of ${server} unset.\n` : `${server} had none of these central tags.\n`,
    );
  });
}

/** `tags list [SERVER]`: each tag in force, where it came from, and the agent's value under a central override. */
export async function tagsListCommand(server?: string): Promise<void> {
  await withStore(async (store) => {
    const rows = [["SERVER", "KEY", "VALUE", "FROM", "SINCE", "AGENT VALUE"]];
    const records = await store.tags.current(server);
    const since = new Map(records.map((r) => [`${r.server}\n${r.source}\n${r.key}`, r.since]));
    for (const [name, tags] of effectiveTags(records)) {
      for (const [key, t] of [...tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const at = since.get(`${name}\n${t.source}\n${key}`);
        rows.push([
          name,
          key,
          t.value,
          t.source,
          at === undefined ? "" : new Date(at).toISOString().slice(0, 16).replace("T", " "),
          t.agentValue ?? "",
        ]);
      }
    }
    if (rows.length === 1) {
      process.stdout.write(server === undefined ? "No server has tags.\n" : `${server} has no tags.\n`);
      return;
    }
    process.stdout.write(formatTable(rows));
  });
}
