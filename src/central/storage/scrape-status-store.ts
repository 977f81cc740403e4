/**
 * The scrape state of each target of SRVUTIL_SCRAPE_CONFIG, shared by every
 * `central serve` instance: a target is scraped by one of them
 * (src/central/scrape/ownership.ts), but the dashboard and
 * GET /api/v1/scrape/targets of any instance show it. Written by the
 * scraper when a target's state changes and at most every few minutes
 * otherwise (src/central/scrape/scraper.ts), not on every scrape.
 * SQLite: ./sqlite/scrape-status.ts; PostgreSQL: ./postgres/scrape-status.ts.
 */
export interface ScrapeStatusStore {
  /**
   * Stores a target's state (one row per server, the newest write wins).
   * `lastSuccessAt` null keeps the stored one (an instance that takes a
   * target over does not know it); a target that was already down keeps
   * its stored `downSince`. The error is cleaned by cleanScrapeError and
   * the URL loses any user name and password.
   */
  record(status: ScrapeStatus): Promise<void>;
  /** Every stored target's state, by server name. */
  list(): Promise<ScrapeStatus[]>;
  /** One server's stored state; null when none is stored. */
  get(server: string): Promise<ScrapeStatus | null>;
  /**
   * Deletes the states of the servers not in `keep` (targets taken out of
   * the config: nothing scrapes them any more); returns how many went.
   */
  forgetOthers(keep: readonly string[]): Promise<number>;
}

export type ScrapeState = "up" | "down";

export interface ScrapeStatus {
  server: string;
  /** The target's URL, without credentials (the config refuses them; record strips them anyway). */
  url: string;
  /** The `central serve` instance that scraped it. */
  instance: string;
  state: ScrapeState;
  /** When a scrape was last stored, epoch ms; null: none known. */
  lastSuccessAt: number | null;
  /** When the target went down (null while up). */
  downSince: number | null;
  /** Why the last scrape failed (null while up). */
  lastError: string | null;
  /** When this state was written, epoch ms. */
  updatedAt: number;
}

/** The scrape_status table's columns, the same on both backends, in the order ScrapeStatusRow lists them. */
export const SCRAPE_STATUS_COLUMNS =
  "server, url, instance, state, last_success_at, down_since, last_error, updated_at";

/** A scrape_status row as both drivers give it (epoch ms as numbers). */
export interface ScrapeStatusRow {
  server: string;
  url: string;
  instance: string;
  state: ScrapeState;
  last_success_at: number | null;
  down_since: number | null;
  last_error: string | null;
  updated_at: number;
}

export function scrapeStatusFromRow(r: ScrapeStatusRow): ScrapeStatus {
  return {
    server: r.server,
    url: r.url,
    instance: r.instance,
    state: r.state,
    lastSuccessAt: r.last_success_at,
    downSince: r.down_since,
    lastError: r.last_error,
    updatedAt: r.updated_at,
  };
}

/** How much of an error text is kept: enough for a TLS or parser message, not a whole answer body. */
export const SCRAPE_ERROR_MAX_CHARS = 500;

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * An error as stored and shown: control characters (a hostile exporter's
 * answer can put any into a parser message) become spaces, runs of
 * whitespace one space, and the text is clipped with an ellipsis.
 */
export function cleanScrapeError(text: string): string {
  const flat = text.replace(CONTROL_CHARACTERS, " ").replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= SCRAPE_ERROR_MAX_CHARS
    ? flat
    : `${chars.slice(0, SCRAPE_ERROR_MAX_CHARS - 1).join("")}…`;
}

/** The URL without user name and password (and unchanged when it does not parse). */
export function urlWithoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === "" && u.password === "") return url;
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//");
  }
}

/** The status as it is stored: error cleaned, URL without credentials, no error while up. */
export function storedScrapeStatus(s: ScrapeStatus): ScrapeStatus {
  return {
    ...s,
    url: urlWithoutCredentials(s.url),
    downSince: s.state === "down" ? s.downSince : null,
    lastError: s.state === "down" && s.lastError !== null ? cleanScrapeError(s.lastError) : null,
  };
}

/** The table, with the integer type of the backend's epoch ms (INTEGER, BIGINT). */
export function scrapeStatusTable(int: "INTEGER" | "BIGINT"): string {
  return `CREATE TABLE scrape_status (
    server TEXT PRIMARY KEY, url TEXT NOT NULL, instance TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('up', 'down')),
    last_success_at ${int}, down_since ${int}, last_error TEXT, updated_at ${int} NOT NULL
  )`;
}

/**
 * record()'s upsert on both backends, `$1`…`$8` in order (the values of
 * scrapeStatusParams): an older write (two instances a moment apart) does not
 * replace a newer one.
 */
export const SCRAPE_STATUS_UPSERT = `INSERT INTO scrape_status
    (server, url, instance, state, last_success_at, down_since, last_error, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (server) DO UPDATE SET url = excluded.url, instance = excluded.instance, state = excluded.state,
    last_success_at = COALESCE(excluded.last_success_at, scrape_status.last_success_at),
    down_since = CASE WHEN excluded.state = 'down' AND scrape_status.state = 'down'
      THEN COALESCE(scrape_status.down_since, excluded.down_since) ELSE excluded.down_since END,
    last_error = excluded.last_error, updated_at = excluded.updated_at
  WHERE excluded.updated_at >= scrape_status.updated_at`;

/** The values of SCRAPE_STATUS_UPSERT for `status`, as stored (storedScrapeStatus). */
export function scrapeStatusParams(status: ScrapeStatus): (string | number | null)[] {
  const s = storedScrapeStatus(status);
  return [s.server, s.url, s.instance, s.state, s.lastSuccessAt, s.downSince, s.lastError, s.updatedAt];
}
