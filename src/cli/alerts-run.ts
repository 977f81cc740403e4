import { userInfo } from "node:os";
import { episodeJson, silenceJson } from "../central/alerts/json.js";
import { loadAlerting } from "../central/alerts/setup.js";
import { MAX_SILENCE_MS, parseSpan } from "../central/alerts/span.js";
import { sendTestNotification } from "../central/alerts/test-notification.js";
import { ALERT_RULES, type AlertRuleName } from "../central/alerts/types.js";
import { openStorage } from "../central/storage/open.js";
import type { Storage } from "../central/storage/store.js";
import { EXIT_CODE, usageError } from "../errors.js";
import { centralConfigFromEnv } from "./central-config.js";

// What `srvutil alerts …` runs (wired in ./alerts.ts, loaded only then).

const out = (line: string) => process.stdout.write(`${line}\n`);

async function withStore<T>(work: (store: Storage) => Promise<T>): Promise<T> {
  const config = centralConfigFromEnv();
  const store = await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous });
  try {
    await store.init();
    return await work(store);
  } finally {
    await store.close();
  }
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw usageError(`${flag}: expected a positive whole number, got '${text}'`);
  return n;
}

function whoAmI(by: string | undefined): string {
  if (by !== undefined && by.trim() !== "") return by.trim().slice(0, 64);
  try {
    return userInfo().username;
  } catch {
    return "cli";
  }
}

/** Sends a test notification through one channel; exit 0 when it took it. */
export async function testCommand(name: string): Promise<number> {
  const config = centralConfigFromEnv();
  const alerting = loadAlerting(config, process.env);
  try {
    const channel = alerting.channels.get(name);
    if (channel === undefined) {
      const known = [...alerting.channels.keys()];
      throw usageError(
        `no channel '${name}' in ${config.alertsConfigFile ?? "SRVUTIL_ALERTS_CONFIG (not set)"}` +
          (known.length > 0 ? `; the channels are ${known.join(", ")}` : ""),
      );
    }
    out(`channel: ${name} (${channel.config.type})`);
    const outcome = await sendTestNotification(channel, {
      now: Date.now(),
      publicUrl: config.digest.publicUrl,
      from: "`srvutil alerts test`",
    });
    if (outcome.ok) {
      out(`answer:  ${outcome.answer.response}`);
      out("The channel took the notification.");
      return 0;
    }
    out(`answer:  ${outcome.error}`);
    out(
      outcome.permanent
        ? "Refused: check the channel's settings."
        : "Not reached: retry later, or check the network path.",
    );
    return EXIT_CODE[outcome.category];
  } finally {
    alerting.mail.close();
  }
}

function when(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

export async function listCommand(opts: {
  all: boolean;
  since: string;
  server?: string;
  limit: string;
  json: boolean;
}): Promise<void> {
  const limit = positiveInt(opts.limit, "--limit");
  const sinceMs = parseSpan(opts.since, "--since");
  await withStore(async (store) => {
    const now = Date.now();
    const rows = opts.all
      ? await store.alerts.list({ from: now - sinceMs, to: now + 1, server: opts.server, limit })
      : (await store.alerts.readOpen()).episodes
          .filter((e) => opts.server === undefined || e.server === opts.server)
          .sort((a, b) => b.startedAt - a.startedAt)
          .slice(0, limit);
    if (opts.json) {
      out(JSON.stringify(rows.map(episodeJson), null, 2));
      return;
    }
    if (rows.length === 0) {
      out(opts.all ? "no alerts in that span" : "no alert is firing or pending");
      return;
    }
    out(
      [
        "id",
        "state",
        "severity",
        "server",
        "rule",
        "mount",
        "firing since",
        "resolved",
        "ack",
        "summary",
      ].join("\t"),
    );
    for (const e of rows) {
      out(
        [
          e.id,
          e.state,
          e.severity,
          e.server,
          e.rule,
          e.mount || "-",
          when(e.firingAt),
          when(e.resolvedAt),
          e.acknowledgedBy ?? "-",
          e.summary,
        ].join("\t"),
      );
    }
  });
}

export async function ackCommand(idText: string, opts: { note?: string; by?: string }): Promise<number> {
  const id = positiveInt(idText, "<id>");
  return withStore(async (store) => {
    const ok = await store.alerts.acknowledge(
      id,
      whoAmI(opts.by),
      opts.note?.slice(0, 500) ?? null,
      Date.now(),
    );
    out(ok ? `acknowledged alert ${id}` : `alert ${id} is not open (resolved, or no such id)`);
    return ok ? 0 : 1;
  });
}

export async function silenceAddCommand(opts: {
  server?: string;
  rule?: string;
  group?: string;
  for: string;
  reason: string;
  by?: string;
}): Promise<void> {
  const span = parseSpan(opts.for, "--for", MAX_SILENCE_MS);
  if (opts.server === undefined && opts.rule === undefined && opts.group === undefined) {
    throw usageError("name what to silence: --server, --rule, --group, or a mix");
  }
  if (opts.server !== undefined && !/^[A-Za-z0-9._*?-]{1,128}$/.test(opts.server)) {
    throw usageError(
      `--server: a server glob may use letters, digits, . _ - and the wildcards * ?, got '${opts.server}'`,
    );
  }
  if (opts.rule !== undefined && !(ALERT_RULES as readonly string[]).includes(opts.rule)) {
    throw usageError(`--rule: expected one of ${ALERT_RULES.join(", ")}, got '${opts.rule}'`);
  }
  const reason = opts.reason.trim();
  if (reason === "") throw usageError("--reason: say why, it is shown wherever the alert is");
  await withStore(async (store) => {
    const now = Date.now();
    const s = await store.alerts.addSilence({
      server: opts.server ?? null,
      rule: (opts.rule as AlertRuleName | undefined) ?? null,
      group: opts.group ?? null,
      startsAt: now,
      endsAt: now + span,
      reason: reason.slice(0, 500),
      createdBy: whoAmI(opts.by),
      createdAt: now,
    });
    out(`silence ${s.id} until ${new Date(s.endsAt).toISOString()}`);
  });
}

export async function silenceListCommand(opts: { all: boolean; json: boolean }): Promise<void> {
  await withStore(async (store) => {
    const rows = await store.alerts.listSilences(opts.all ? {} : { activeAt: Date.now() });
    if (opts.json) {
      out(JSON.stringify(rows.map(silenceJson), null, 2));
      return;
    }
    if (rows.length === 0) {
      out(opts.all ? "no silences" : "no silence is in force");
      return;
    }
    out(["id", "server", "rule", "group", "until", "by", "reason"].join("\t"));
    for (const s of rows) {
      out(
        [s.id, s.server ?? "*", s.rule ?? "*", s.group ?? "*", when(s.endsAt), s.createdBy, s.reason].join(
          "\t",
        ),
      );
    }
  });
}

export async function silenceEndCommand(idText: string): Promise<number> {
  const id = positiveInt(idText, "<id>");
  return withStore(async (store) => {
    const ok = await store.alerts.endSilence(id, Date.now());
    out(ok ? `silence ${id} ended` : `silence ${id} is not in force (over, or no such id)`);
    return ok ? 0 : 1;
  });
}
