import { errorCode } from "../../errors.js";
import type { AgentIdentity } from "../../protocol/agent-identity.js";

/**
 * What feeds each server, and what its agent said about itself: the input
 * (the agent, or a foreign one: scrape, remote_write, OTLP, Telegraf,
 * collectd), the agent's release, platform, arch and OS (from its
 * User-Agent), when it was last seen, and the last upload the central
 * refused. The fleet page and GET /api/v1/servers show it.
 *
 * Its own part, not the tokens' (keyed by token, credentials only) nor the
 * samples' (the ingest transaction stays as it is): one row per server,
 * written by src/central/ingest/server-inputs.ts only when something
 * shown changes and at most every few minutes otherwise, never in the
 * upload's own transaction. SQLite: ./sqlite/server-inputs.ts;
 * PostgreSQL: ./postgres/server-inputs.ts.
 */
export interface ServerInputStore {
  /**
   * Merges one observation into the server's row, field by field by time,
   * so instances writing out of order keep the newest of each: the input
   * and identity of the newest `at`, the latest success, the latest error.
   * Texts are clipped and cleaned here (cleanInputText).
   */
  record(observation: InputObservation): Promise<void>;
  /** Every server's row, by server name. */
  list(): Promise<ServerInput[]>;
  /**
   * Deletes the rows of servers no longer known (the retention job): no
   * stored sample (server_stats), no active agent token, and nothing seen
   * since `seenBefore` (epoch ms). The last condition keeps a server whose
   * every upload is refused, or a failing scrape target, on the fleet page
   * while it keeps trying. Resolves to the rows deleted.
   */
  pruneUnknown(seenBefore: number): Promise<number>;
}

/** The inputs that feed a server. */
export type InputKind = "agent" | "scrape" | "remote_write" | "otlp" | "telegraf" | "collectd";

export const INPUT_KINDS: readonly InputKind[] = [
  "agent",
  "scrape",
  "remote_write",
  "otlp",
  "telegraf",
  "collectd",
];

/** One authenticated request, or one foreign batch, of a server. */
export interface InputObservation {
  server: string;
  input: InputKind;
  /** epoch ms. */
  at: number;
  /** The agent's identity (input "agent"); null: not an agent, or a User-Agent that did not parse. */
  agent: AgentIdentity | null;
  /** "ok": an upload was stored; an error: an upload was refused (4xx); null: neither (whoami). */
  outcome: "ok" | UploadError | null;
}

export interface UploadError {
  /** SRVUTIL_E_… */
  code: string;
  message: string;
}

export interface ServerInput {
  server: string;
  input: InputKind;
  /** null: unknown (not an agent, or its User-Agent did not parse). */
  agentVersion: string | null;
  platform: string | null;
  arch: string | null;
  os: string | null;
  /** The last request or batch, epoch ms. */
  lastSeenAt: number;
  /** The last stored upload, epoch ms; null: none yet. */
  lastSuccessAt: number | null;
  /** The last refused upload; null: none. Older than lastSuccessAt when uploads succeed again. */
  lastError: (UploadError & { at: number }) | null;
}

/** Longest error message kept. */
export const INPUT_ERROR_MAX_CHARS = 300;
/** Longest SRVUTIL_E_ code kept. */
const CODE_MAX_CHARS = 64;

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Control characters become spaces, runs of whitespace one space, clipped with an ellipsis. */
export function cleanInputText(text: string, max: number): string {
  const flat = text.replace(CONTROL_CHARACTERS, " ").replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join("")}…`;
}

/** The observation's error as stored: a code of the SRVUTIL_E_ shape, a cleaned, clipped message. */
export function storedError(outcome: InputObservation["outcome"]): UploadError | null {
  if (outcome === null || outcome === "ok") return null;
  const code = /^SRVUTIL_E_[A-Z0-9_]+$/.test(outcome.code)
    ? outcome.code.slice(0, CODE_MAX_CHARS)
    : errorCode("bad_request");
  return { code, message: cleanInputText(outcome.message, INPUT_ERROR_MAX_CHARS) };
}

/** The server_inputs columns, the same on both backends, in ServerInputRow's order. */
export const SERVER_INPUT_COLUMNS =
  "server, input, agent_version, platform, arch, os, last_seen_at, last_success_at, error_code, error_message, error_at";

/** A server_inputs row as both drivers give it (epoch ms as numbers). */
export interface ServerInputRow {
  server: string;
  input: InputKind;
  agent_version: string | null;
  platform: string | null;
  arch: string | null;
  os: string | null;
  last_seen_at: number;
  last_success_at: number | null;
  error_code: string | null;
  error_message: string | null;
  error_at: number | null;
}

export function serverInputFromRow(r: ServerInputRow): ServerInput {
  return {
    server: r.server,
    input: r.input,
    agentVersion: r.agent_version,
    platform: r.platform,
    arch: r.arch,
    os: r.os,
    lastSeenAt: r.last_seen_at,
    lastSuccessAt: r.last_success_at,
    lastError:
      r.error_code === null || r.error_at === null
        ? null
        : { code: r.error_code, message: r.error_message ?? "", at: r.error_at },
  };
}

/** The parameters of one record(), in the order of the upsert's placeholders (both backends). */
export function observationParams(o: InputObservation): (string | number | null)[] {
  const error = storedError(o.outcome);
  const a = o.agent;
  return [
    o.server,
    o.input,
    a?.version ?? null,
    a?.platform ?? null,
    a?.arch ?? null,
    a === null || a.os === null ? null : cleanInputText(a.os, 64),
    o.at,
    o.outcome === "ok" ? o.at : null,
    error?.code ?? null,
    error?.message ?? null,
    error === null ? null : o.at,
  ];
}

/**
 * The upsert, with `$1`…`$11` placeholders (SQLite: fromPg):
 * the newest `at` decides input and identity, the latest success and the
 * latest error each keep their own time.
 */
export const SERVER_INPUT_UPSERT = `INSERT INTO server_inputs (${SERVER_INPUT_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
  ON CONFLICT (server) DO UPDATE SET
    input = CASE WHEN excluded.last_seen_at >= server_inputs.last_seen_at THEN excluded.input ELSE server_inputs.input END,
    agent_version = CASE WHEN excluded.last_seen_at >= server_inputs.last_seen_at THEN excluded.agent_version ELSE server_inputs.agent_version END,
    platform = CASE WHEN excluded.last_seen_at >= server_inputs.last_seen_at THEN excluded.platform ELSE server_inputs.platform END,
    arch = CASE WHEN excluded.last_seen_at >= server_inputs.last_seen_at THEN excluded.arch ELSE server_inputs.arch END,
    os = CASE WHEN excluded.last_seen_at >= server_inputs.last_seen_at THEN excluded.os ELSE server_inputs.os END,
    last_seen_at = CASE WHEN excluded.last_seen_at >= server_inputs.last_seen_at THEN excluded.last_seen_at ELSE server_inputs.last_seen_at END,
    last_success_at = CASE WHEN server_inputs.last_success_at IS NULL
      OR (excluded.last_success_at IS NOT NULL AND excluded.last_success_at > server_inputs.last_success_at)
      THEN COALESCE(excluded.last_success_at, server_inputs.last_success_at) ELSE server_inputs.last_success_at END,
    error_code = CASE WHEN excluded.error_at IS NOT NULL AND (server_inputs.error_at IS NULL OR excluded.error_at >= server_inputs.error_at)
      THEN excluded.error_code ELSE server_inputs.error_code END,
    error_message = CASE WHEN excluded.error_at IS NOT NULL AND (server_inputs.error_at IS NULL OR excluded.error_at >= server_inputs.error_at)
      THEN excluded.error_message ELSE server_inputs.error_message END,
    error_at = CASE WHEN excluded.error_at IS NOT NULL AND (server_inputs.error_at IS NULL OR excluded.error_at >= server_inputs.error_at)
      THEN excluded.error_at ELSE server_inputs.error_at END`;

/** pruneUnknown's DELETE, `$1` the seen-before instant, on both backends. */
export const SERVER_INPUT_PRUNE = `DELETE FROM server_inputs WHERE last_seen_at < $1
  AND NOT EXISTS (SELECT 1 FROM server_stats s WHERE s.server = server_inputs.server)
  AND NOT EXISTS (SELECT 1 FROM agent_tokens t WHERE t.server = server_inputs.server AND t.revoked_at IS NULL)`;

/** The table, with the integer type of the backend's epoch ms (INTEGER, BIGINT). */
export function serverInputsTable(int: "INTEGER" | "BIGINT"): string {
  return `CREATE TABLE server_inputs (
    server TEXT PRIMARY KEY,
    input TEXT NOT NULL CHECK (input IN (${INPUT_KINDS.map((k) => `'${k}'`).join(", ")})),
    agent_version TEXT CHECK (length(agent_version) <= 40),
    platform TEXT CHECK (length(platform) <= 16),
    arch TEXT CHECK (length(arch) <= 16),
    os TEXT CHECK (length(os) <= 64),
    last_seen_at ${int} NOT NULL,
    last_success_at ${int},
    error_code TEXT CHECK (length(error_code) <= 64),
    error_message TEXT CHECK (length(error_message) <= 400),
    error_at ${int}
  )`;
}
