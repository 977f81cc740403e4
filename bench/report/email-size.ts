/**
 * `npm run bench:email`: the weekly email's size and compose time per fleet
 * size, the previous email ("before": renderReport(report, "email"), every
 * chart and section in the body) against the digest with attachments
 * ("after": composeReportMail), measured in the same run.
 *
 * 10 and 100 servers come from a real SQLite store (the test fleet); 1,000
 * and 10,000 from syntheticReport(), as seeding 10,000 servers would take
 * most of an hour here. Each message is written by the real outbox transport
 * (nodemailer's MIME) and parsed back with mailparser; "HTML part" is the
 * decoded HTML, "message" the .eml on disk. Compose time excludes the report
 * build (identical for both). Env: SRVUTIL_BENCH_REPEAT (default 3).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";
import { resolveReportWeek } from "../../src/central/aggregate/week.js";
import { composeReportMail } from "../../src/central/delivery/composer.js";
import { OutboxMailTransport } from "../../src/central/mail/transport.js";
import { buildWeeklyReport, renderReport, type WeeklyReport } from "../../src/central/report/index.js";
import { seedFleet } from "../../test/helpers/seeded-fleet.js";
import { tempStore } from "../../test/helpers/store-backends.js";
import { syntheticReport } from "../../test/helpers/synthetic-report.js";

const TZ = "Europe/Berlin";
const WEEK = resolveReportWeek("2026-W47", TZ);
const REPEAT = Number(process.env.SRVUTIL_BENCH_REPEAT ?? 3);
const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-email-"));
const outbox = new OutboxMailTransport(dir);

interface Size {
  htmlBytes: number;
  messageBytes: number;
  /** The attached files, e.g. "html.zip (trimmed), json, csv". */
  attachments: string;
  ms: number[];
}

async function measure(
  compose: () => Promise<{ html: string; text: string; images: never[] | object[]; attachments?: object[] }>,
): Promise<Size> {
  const ms: number[] = [];
  let last: Awaited<ReturnType<typeof compose>> | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    last = await compose();
    ms.push(performance.now() - t0);
  }
  const c = last!;
  const res = await outbox.send({
    messageId: "<bench@srvutil>",
    from: "srvutil@example.com",
    to: ["ops@example.com"],
    cc: [],
    bcc: [],
    subject: "bench",
    html: c.html,
    text: c.text,
    images: c.images as never[],
    attachments: (c.attachments ?? []) as never[],
  });
  const raw = readFileSync(res.file!);
  // keepCidLinks: by default mailparser inlines cid: images into the HTML as data: URIs.
  const parsed = await simpleParser(raw, { keepCidLinks: true });
  return {
    htmlBytes: Buffer.byteLength(String(parsed.html)),
    messageBytes: raw.length,
    attachments:
      parsed.attachments
        .filter((a) => a.contentDisposition === "attachment")
        .map((a) => {
          const kind = a.filename!.replace(/^srvutil-[0-9W-]+?(-daily)?\./, "");
          return kind.startsWith("html") && c.html.includes("attached, trimmed") ? `${kind} (trimmed)` : kind;
        })
        .join(", ") || "none",
    ms,
  };
}

const kb = (b: number): string => `${(b / 1024).toFixed(0)} KB`;
const mbs = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;
const range = (ms: number[]): string => {
  const lo = Math.min(...ms);
  const hi = Math.max(...ms);
  return hi - lo < 5 ? `${lo.toFixed(0)} ms` : `${lo.toFixed(0)}–${hi.toFixed(0)} ms`;
};

async function fleet(n: number): Promise<{ report: WeeklyReport; source: string; buildMs: number }> {
  if (n > 100) return { report: syntheticReport(n), source: "synthetic", buildMs: Number.NaN };
  const t = await tempStore();
  try {
    await seedFleet(t.store, WEEK, n);
    const t0 = performance.now();
    const report = await buildWeeklyReport(t.store, {
      week: WEEK.week,
      timeZone: TZ,
      now: WEEK.to + 6 * 3.6e6,
    });
    return { report, source: "SQLite store", buildMs: performance.now() - t0 };
  } finally {
    await t.cleanup();
  }
}

console.log(`bench:email — week ${WEEK.week}, ${TZ}, ${REPEAT} runs each, Node ${process.version}`);
console.log(
  "| servers | report from | build | before: HTML part | before: message | before: compose | after: HTML part | after: message | attachments | after: compose | HTML ratio |",
);
console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const n of [10, 100, 1000, 10_000]) {
  const { report, source, buildMs } = await fleet(n);
  const before = await measure(async () => {
    const r = await renderReport(report, "email");
    return { html: r.html, text: r.text, images: r.images };
  });
  const after = await measure(() => composeReportMail(report, { group: "default", timeZone: TZ }));
  console.log(
    `| ${n.toLocaleString("en-US")} | ${source} | ${Number.isNaN(buildMs) ? "–" : `${buildMs.toFixed(0)} ms`} | ${kb(before.htmlBytes)} | ${mbs(before.messageBytes)} | ${range(before.ms)} | ${kb(after.htmlBytes)} | ${mbs(after.messageBytes)} | ${after.attachments} | ${range(after.ms)} | ${(after.htmlBytes / before.htmlBytes).toFixed(3)}× |`,
  );
}
rmSync(dir, { recursive: true, force: true });
