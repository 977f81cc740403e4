import { userInfo } from "node:os";
import { AutomationLog } from "../central/automation-log.js";
import { createEnrolmentToken, parseDuration, parseTags } from "../central/enrol/tokens.js";
import { enrolmentState } from "../central/storage/enrolment-store.js";
import { usageError } from "../errors.js";
import { formatTable, withStore } from "./central-run.js";

/**
 * What `srvutil central enrol …` runs (wiring: ./central.ts, which loads this
 * module only when an enrol command runs). docs/enrol.md.
 */

export interface EnrolCreateOptions {
  servers: string;
  uses: string;
  expires: string;
  allowReenrol?: boolean;
  tag?: string[];
}

/** `enrol create`: the token alone on the last line, everything else above it. */
export async function enrolCreateCommand(opts: EnrolCreateOptions): Promise<void> {
  if (!/^[1-9][0-9]*$/.test(opts.uses))
    throw usageError(`--uses: expected a whole number from 1, got '${opts.uses}'`);
  const expiresInMs = parseDuration(opts.expires);
  const tags = parseTags(opts.tag ?? []);
  await withStore(async (store, config) => {
    const { token, record } = await createEnrolmentToken(store, {
      servers: opts.servers,
      maxUses: Number(opts.uses),
      expiresInMs,
      allowReenrol: opts.allowReenrol === true,
      tags,
      createdBy: `cli:${cliUser()}`,
    });
    new AutomationLog(config.paths.automationLog, config.logRotation).info("enrolment token created", {
      tokenId: record.tokenId,
      servers: record.servers,
      uses: record.maxUses,
      expiresAt: new Date(record.expiresAt).toISOString(),
      allowReenrol: record.allowReenrol,
    });
    const lines = [
      `Enrolment token ${record.tokenId} for servers '${record.servers}': ${record.maxUses} use${record.maxUses === 1 ? "" : "s"}, ` +
        `expires ${minute(record.expiresAt)}${record.allowReenrol ? ", may re-enrol existing names" : ""}.`,
      "On each new server: SRVUTIL_CENTRAL_URL=<this central's URL> srvutil agent install --enrol <token>",
      "The token is shown only once:",
      token,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  });
}

/** `enrol list`: never the secrets. */
export async function enrolListCommand(): Promise<void> {
  await withStore(async (store) => {
    const now = Date.now();
    const rows = [["TOKEN ID", "SERVERS", "USES", "EXPIRES", "STATE", "RE-ENROL", "CREATED", "BY"]];
    for (const t of await store.enrolments.list()) {
      rows.push([
        t.tokenId,
        t.servers,
        `${t.uses}/${t.maxUses}`,
        minute(t.expiresAt),
        t.revokedAt === null ? enrolmentState(t, now) : `revoked ${minute(t.revokedAt)}`,
        t.allowReenrol ? "yes" : "no",
        minute(t.createdAt),
        t.createdBy,
      ]);
    }
    process.stdout.write(formatTable(rows));
    const log = await store.enrolments.log(20);
    if (log.length > 0) {
      const entries = [["ENROLLED", "SERVER", "TOKEN ID", "FROM", "AGENT TOKEN ID"]];
      for (const e of log)
        entries.push([minute(e.enrolledAt), e.server, e.tokenId, e.address, e.agentTokenId]);
      process.stdout.write(`\nLast enrolments:\n${formatTable(entries)}`);
    }
  });
}

/** `enrol revoke ID`: the token cannot enrol any more; servers it enrolled keep their agent tokens. */
export async function enrolRevokeCommand(id: string): Promise<void> {
  const tokenId = /^srve_([0-9a-f]{12})(_|$)/.exec(id)?.[1] ?? id;
  if (!/^[0-9a-f]{12}$/.test(tokenId)) {
    throw usageError(
      `expected an enrolment token id of 12 hex digits (see \`srvutil central enrol list\`), got '${id}'`,
    );
  }
  await withStore(async (store, config) => {
    if (!(await store.enrolments.revoke(tokenId, Date.now()))) {
      throw usageError(`no active enrolment token ${tokenId} (see \`srvutil central enrol list\`)`);
    }
    new AutomationLog(config.paths.automationLog, config.logRotation).info("enrolment token revoked", {
      tokenId,
    });
    process.stdout.write(
      `Revoked enrolment token ${tokenId}; the servers it enrolled keep their agent tokens\n`,
    );
  });
}

function minute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

function cliUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
