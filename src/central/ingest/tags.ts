import { formatTagList, type Tags } from "../../protocol/tags.js";
import type { AutomationLog } from "../automation-log.js";
import type { TagStore } from "../storage/tag-store.js";

/** How long a remembered agent tag set is trusted before the store is asked again (another instance may have written). */
export const TAGS_RECHECK_MS = 10 * 60_000;
/** Servers remembered per instance; past it the memory starts over. */
const MAX_REMEMBERED = 100_000;

/**
 * Records the tags each agent declares with its uploads (store.tags),
 * cheaply: agents upload every minute and their tags almost never change,
 * so the last set seen per server is remembered, and an upload declaring
 * the same set costs nothing. A new set, or one not checked for
 * TAGS_RECHECK_MS, goes to the store, which compares it with the open rows
 * and writes only what changed (nothing when another instance already did).
 *
 * A failure to write is logged and swallowed: the upload is stored already.
 */
export class AgentTagRecorder {
  private readonly seen = new Map<string, { tags: string; at: number }>();

  constructor(
    private readonly store: TagStore,
    private readonly log: AutomationLog | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records `tags` as the server's agent-declared set; resolves once written or skipped. True when the store was asked. */
  async observe(server: string, tags: Tags): Promise<boolean> {
    const at = this.now();
    const key = formatTagList(tags);
    const before = this.seen.get(server);
    if (before !== undefined && before.tags === key && at - before.at < TAGS_RECHECK_MS && at >= before.at)
      return false;
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.set(server, { tags: key, at });
    try {
      await this.store.replace(server, "agent", tags, at);
    } catch (err) {
      this.seen.delete(server);
      this.log?.warn("agent tags not recorded", {
        server,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    return true;
  }
}
