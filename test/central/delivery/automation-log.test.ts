import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AutomationLog, MAX_LOG_LINE_BYTES, redactSecrets } from "../../../src/central/automation-log.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { runCli } from "../../helpers/cli.js";
import { freePort } from "../../helpers/net.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-log-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("AutomationLog", () => {
  it("writes one JSON object per line (constructor(file) and info/warn/error/write keep working)", () => {
    const file = path.join(dir, "Logs", "automation.log");
    const log = new AutomationLog(file);
    log.info("upload.accepted", { server: "web-01", rows: 3 });
    log.warn("delivery.retry_scheduled", { error: new Error("ECONNREFUSED") });
    log.error("delivery.failed");
    log.write("debug", "x", { big: 10n });
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.level, l.event])).toEqual([
      ["info", "upload.accepted"],
      ["warn", "delivery.retry_scheduled"],
      ["error", "delivery.failed"],
      ["debug", "x"],
    ]);
    expect(lines[0]).toMatchObject({ server: "web-01", rows: 3 });
    expect(lines[1].error).toEqual({ name: "Error", message: "ECONNREFUSED" });
    expect(lines[3].big).toBe("10");
    expect(Date.parse(lines[0].time)).toBeGreaterThan(0);
  });

  it("bounds every line to MAX_LOG_LINE_BYTES, keeping what names the entry, so one entry cannot rotate the history away", () => {
    const file = path.join(dir, "automation.log");
    const log = new AutomationLog(file);
    log.info("before", { n: 1 });
    // What an unbounded list of skipped seed lines once wrote: one 85 MB line.
    const lines = Array.from({ length: 200_000 }, (_, i) => `line ${i + 3}: expected 8 fields, found 1`);
    log.warn("seed bridge skipped lines", {
      server: "SEED-01",
      lines,
      note: "é".repeat(100_000),
      smtp: `smtp://user:${"s".repeat(5000)}@mail.example.com:587`,
    });
    // Many fields, each short: the second stage keeps only the names.
    log.info(
      "wide",
      Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`field_${i}`, "v".repeat(100)])),
    );
    log.info("after", { n: 2 });
    const written = readFileSync(file, "utf8").trim().split("\n");
    expect(written).toHaveLength(4);
    for (const l of written) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    const [before, big, wide, after] = written.map((l) => JSON.parse(l));
    expect(before).toMatchObject({ event: "before", n: 1 });
    expect(after).toMatchObject({ event: "after", n: 2 });
    expect(big).toMatchObject({
      level: "warn",
      event: "seed bridge skipped lines",
      server: "SEED-01",
      truncated: true,
    });
    expect(big.original_bytes).toBeGreaterThan(8_000_000);
    expect(big.lines.slice(0, 2)).toEqual([
      "line 3: expected 8 fields, found 1",
      "line 4: expected 8 fields, found 1",
    ]);
    expect(big.lines.at(-1)).toBe("… (200000 items)");
    expect(big.note).toMatch(/… \(100000 characters\)$/);
    // Redacted before it was clipped: no piece of the secret is left.
    expect(big.smtp).toBe("smtp://user:***@mail.example.com:587");
    expect(wide).toMatchObject({ event: "wide", truncated: true });
    expect(wide.fields).toHaveLength(16);
  });

  it("rotates by size and keeps at most maxFiles old files, so it never fills the disk", () => {
    const file = path.join(dir, "automation.log");
    const log = new AutomationLog(file, { maxBytes: 1000, maxFiles: 3, daily: false });
    for (let i = 0; i < 200; i++) log.info("step", { i, pad: "x".repeat(50) });
    const files = [file, ...log.rotatedFiles()];
    expect(log.rotatedFiles()).toEqual([`${file}.1`, `${file}.2`, `${file}.3`]);
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(1000);
    // Nothing in between is lost: the kept files hold consecutive steps, newest in the live file.
    const seq = [...files]
      .reverse()
      .flatMap((f) => readFileSync(f, "utf8").trim().split("\n"))
      .map((l) => JSON.parse(l).i as number);
    expect(seq.at(-1)).toBe(199);
    expect(seq).toEqual(Array.from({ length: seq.length }, (_, k) => 200 - seq.length + k));
  });

  it("rotates daily at the first write of a new day when asked to", () => {
    const file = path.join(dir, "automation.log");
    writeFileSync(file, `${JSON.stringify({ event: "yesterday" })}\n`);
    const yesterday = new Date(Date.now() - 86_400_000);
    utimesSync(file, yesterday, yesterday);
    const log = new AutomationLog(file, { maxBytes: 0, maxFiles: 2, daily: true });
    log.info("today");
    log.info("today again");
    expect(readFileSync(`${file}.1`, "utf8")).toContain("yesterday");
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2);
  });

  it("shares the file with another writer that rotates it: nothing lost, and back on the live file within a second", async () => {
    const file = path.join(dir, "automation.log");
    const a = new AutomationLog(file, { maxBytes: 0, maxFiles: 5, daily: false });
    const b = new AutomationLog(file, { maxBytes: 600, maxFiles: 5, daily: false });
    a.info("a", { i: 0 });
    for (let i = 0; i < 8; i++) b.info("b", { i, pad: "x".repeat(60) }); // b rotates at least once
    expect(b.rotatedFiles().length).toBeGreaterThan(0);
    a.info("a", { i: 1 }); // may still land in the file b rotated away: kept, not lost
    await new Promise((r) => setTimeout(r, 1100));
    a.info("a", { i: 2 });
    const live = readFileSync(file, "utf8");
    expect(live).toContain('"event":"a","i":2');
    const all = [file, ...b.rotatedFiles()].map((f) => readFileSync(f, "utf8")).join("");
    for (let i = 0; i < 3; i++) expect(all).toContain(`"event":"a","i":${i}`);
    for (let i = 0; i < 8; i++) expect(all).toContain(`"event":"b","i":${i},`);
    a.close();
    b.close();
  });

  it("redacts credentials in URLs from every line", () => {
    const file = path.join(dir, "automation.log");
    new AutomationLog(file).error("delivery.failed", {
      error: "connect smtp://reports:hunter2@mail.corp:587 failed",
    });
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("hunter2");
    expect(text).toContain("smtp://reports:***@mail.corp:587");
    expect(redactSecrets("postgres://u:p%40ss@db/x and smtps://a:b@c")).toBe(
      "postgres://u:***@db/x and smtps://a:***@c",
    );
  });

  it.each([
    // [text inside a log field, what the line shows]
    ["smtp://127.0.0.1:1", "smtp://127.0.0.1:1"],
    ["smtp://reports@mail.corp:25", "smtp://reports@mail.corp:25"],
    ["smtp://reports:hunter2@mail.corp:587", "smtp://reports:***@mail.corp:587"],
    ["smtp://me%40corp.com:hunter2@mail.corp:2525", "smtp://me%40corp.com:***@mail.corp:2525"],
    ["smtps://u:hunter2@mail.corp:465", "smtps://u:***@mail.corp:465"],
    ["smtp://[2001:db8::1]:25", "smtp://[2001:db8::1]:25"],
    ["smtp://u:hunter2@[2001:db8::1]:25", "smtp://u:***@[2001:db8::1]:25"],
    ['smtp://u:hun"ter2@mail.corp', "smtp://u:***@mail.corp"],
  ])("masks only the password of %s, next to a field holding an @", (url, shown) => {
    const file = path.join(dir, "automation.log");
    new AutomationLog(file).info("delivery.sending", {
      transport: url,
      message_id: "<srvutil.2026-W47.default.0b67@localhost>",
      from: "srvutil <srvutil@localhost>",
    });
    const line = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
    expect(line.transport).toBe(shown);
    expect(line.message_id).toBe("<srvutil.2026-W47.default.0b67@localhost>");
    expect(line.from).toBe("srvutil <srvutil@localhost>");
    expect(readFileSync(file, "utf8")).not.toContain("hunter2");
  });

  it("shows host and port of an SMTP URL without credentials in a real `report send`", async () => {
    const closedPort = await freePort();
    const data = path.join(dir, "data");
    const r = await runCli(["report", "send", "--week", "2026-W47"], {
      PATH: process.env.PATH,
      SRVUTIL_DATA_DIR: data,
      SRVUTIL_REPORT_TO: "ops@example.com",
      SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${closedPort}`,
    });
    expect(r.code).toBe(1); // the server is down: not sent, left for `central serve` to retry
    expect(r.stdout).toContain("ECONNREFUSED");
    const lines = readFileSync(path.join(data, "Logs", "automation.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const sending = lines.find((l) => l.event === "delivery.sending");
    expect(sending?.transport).toBe(`smtp://127.0.0.1:${closedPort}`);
    expect(String(sending?.message_id)).toMatch(/^<srvutil\.2026-W47\.default\.[0-9a-f]+@localhost>$/);
    expect(readFileSync(path.join(data, "Logs", "automation.log"), "utf8")).not.toContain("***");
  });

  it("reads rotation settings from the environment with clear errors", () => {
    const logRotationFromEnv = (env: Record<string, string>) => loadCentralConfig(env).logRotation;
    expect(logRotationFromEnv({})).toEqual({ maxBytes: 10 * 1024 * 1024, maxFiles: 5, daily: false });
    expect(
      logRotationFromEnv({ SRVUTIL_LOG_MAX_BYTES: "2048", SRVUTIL_LOG_ROTATE_DAILY: "true" }),
    ).toMatchObject({
      maxBytes: 2048,
      daily: true,
    });
    expect(() => logRotationFromEnv({ SRVUTIL_LOG_MAX_FILES: "0" })).toThrow(/SRVUTIL_LOG_MAX_FILES/);
    expect(() => logRotationFromEnv({ SRVUTIL_LOG_MAX_BYTES: "10MB" })).toThrow(/SRVUTIL_LOG_MAX_BYTES/);
  });
});
