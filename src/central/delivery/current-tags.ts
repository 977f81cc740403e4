import type { Tags } from "../../protocol/tags.js";
import { effectiveTags, type TagStore, tagValues } from "../storage/tag-store.js";
import { NO_TAGS } from "./groups.js";

/** How often `central serve` reads the current tags again for the callers that need them synchronously. */
export const CURRENT_TAGS_REFRESH_MS = 60_000;

/**
 * The effective tags of every server now, in memory, for the lookups that
 * must answer synchronously (which groups an alert's server belongs to:
 * routes and silences by group). Read whole from store.tags at start and
 * every CURRENT_TAGS_REFRESH_MS after: one small read, and a tag set by an
 * admin or a new agent config reaches alert routing within a minute.
 */
export class CurrentTags {
  private byServer = new Map<string, Tags>();

  /** The server's effective tags as last read (none: NO_TAGS). */
  of(server: string): Tags {
    return this.byServer.get(server) ?? NO_TAGS;
  }

  async refresh(store: TagStore): Promise<void> {
    this.byServer = tagValues(effectiveTags(await store.current()));
  }
}
