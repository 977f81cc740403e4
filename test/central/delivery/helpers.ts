// Shared pieces of the delivery tests: a real SQLite file, a simple real composer, log reading.
import { existsSync, readFileSync } from "node:fs";
import Database from "better-sqlite3";
import type { ComposedReport, ReportComposer } from "../../../src/central/delivery/composer.js";
import { reportSubject } from "../../../src/central/delivery/composer.js";
import { NO_TAGS } from "../../../src/central/delivery/groups.js";
import { SqliteDeliveryStore } from "../../../src/central/storage/sqlite/deliveries.js";
import { TINY_PNG } from "../mail/smtp-fixture.js";

/** Opens (creating) a SQLite file the way the central does: WAL, a busy timeout. */
export function openDeliveryDb(file: string): { db: Database.Database; store: SqliteDeliveryStore } {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 10000");
  return { db, store: new SqliteDeliveryStore(db) };
}

/**
 * A small real composer: lists the fleet's servers that belong to the group,
 * with a chart image; servers whose name starts with "db" "need action".
 */
export function fleetComposer(fleet: readonly string[]): ReportComposer {
  return async ({ week, group, timeZone }): Promise<ComposedReport> => {
    const servers = fleet.filter((s) => group.includes(s, NO_TAGS));
    const needingAction = servers.filter((s) => s.startsWith("db")).length;
    const rows = servers.map((s) => `<li>${s}</li>`).join("");
    return {
      subject: reportSubject({ week, timeZone, group: group.name, servers: servers.length, needingAction }),
      html: `<h1>Week ${week}</h1><ul>${rows}</ul><img src="cid:chart@srvutil" alt="chart">`,
      text: `Week ${week}\n${servers.join("\n")}\n`,
      images: [{ cid: "chart@srvutil", filename: "chart.png", contentType: "image/png", content: TINY_PNG }],
      servers: servers.length,
      needingAction,
    };
  };
}

export interface LogLine {
  time: string;
  level: string;
  event: string;
  [k: string]: unknown;
}

export function readLog(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as LogLine);
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
