/**
 * Small requests that used to cost the central a great deal (issue 24,
 * "Amplification"), sent to a real `central serve` over loopback. Each one
 * must get a clear 4xx (or, for a seed file, the good line stored and the
 * bad ones counted), store nothing of a refused request, and stay bounded in
 * time, in the server's peak memory, in answer size and in automation.log.
 *
 * The bounds are several times what the fixed code needs on a loaded
 * 2-core machine, and far below what the unbounded code took: the 16M-comma
 * header took 7.9 s, 773 MB and answered 32 MiB; the seed file of 2,000,000
 * bad lines took 8.5 s, 1.26 GB and wrote an 85 MB log line.
 */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEED_HEADER } from "../../../src/central/ingest/seed/parse-seed.js";
import { type HostileCentral, MiB, measure, startHostileCentral } from "./hostile-central.js";

const KiB = 1024;
const V1_HEADER =
  "timestamp,server,cpu_percent,cpu_peak_percent,interval_seconds,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes";

function seedTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

function multipart(fields: Record<string, string>, file: Buffer): { body: Buffer; type: string } {
  const boundary = `----srvutil${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  parts.push(
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.csv"\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

describe("hostile uploads to a real central serve: bounded cost", () => {
  let central: HostileCentral;
  const post = (body: Buffer, headers: Record<string, string>) =>
    fetch(`${central.base}/api/v1/metrics`, {
      method: "POST",
      headers: { authorization: `Bearer ${central.tokens["web-01"]}`, ...headers },
      body,
    });

  beforeAll(async () => {
    central = await startHostileCentral(["web-01", "SEED-01"], {
      SRVUTIL_SEED_COMPAT: "on",
      SRVUTIL_REPORT_TZ: "UTC",
    });
    // Warm up: the first upload loads the parser and the ingest path, which is not what is measured.
    const warm = await post(
      Buffer.from(
        `${V1_HEADER}\n${new Date(Date.now() - 3_600_000).toISOString()},web-01,1,,,100,10,90,/,100,10,90\n`,
      ),
      { "content-type": "text/csv" },
    );
    expect(warm.status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await central?.stop();
  });

  it("a 16 KB gzip body whose header is 16M commas: 400 header_too_long, small answer, little memory", async () => {
    const gz = gzipSync(Buffer.alloc(16_000_000, ","), { level: 9 });
    expect(gz.length).toBeLessThan(20 * KiB);
    const rawBefore = central.rawFiles().length;
    const cost = await measure(central, () =>
      post(gz, { "content-type": "text/csv", "content-encoding": "gzip" }),
    );
    console.log(
      `16M-comma gzip header: ${cost.status}, answer ${cost.answerBytes} B, ${cost.ms.toFixed(0)} ms, peak RSS +${(cost.rssGrowth / MiB).toFixed(1)} MiB`,
    );
    expect(cost.status).toBe(400);
    expect(JSON.parse(cost.body)).toMatchObject({
      reason: "header_too_long",
      code: "SRVUTIL_E_HEADER_TOO_LONG",
      line: 1,
    });
    expect(cost.answerBytes).toBeLessThan(64 * KiB);
    expect(cost.ms).toBeLessThan(2000);
    expect(cost.rssGrowth).toBeLessThan(64 * MiB);
    expect(central.rawFiles()).toHaveLength(rawBefore);
  });

  it("three of them in parallel stay bounded too", async () => {
    const gz = gzipSync(Buffer.alloc(16_000_000, ","), { level: 9 });
    central.resetPeak();
    const before = central.rss();
    const t0 = performance.now();
    const answers = await Promise.all(
      [0, 1, 2].map(() => post(gz, { "content-type": "text/csv", "content-encoding": "gzip" })),
    );
    const sizes = await Promise.all(answers.map(async (r) => (await r.arrayBuffer()).byteLength));
    const ms = performance.now() - t0;
    const growth = central.peakRss() - before;
    console.log(
      `3 × 16M-comma gzip header in parallel: ${ms.toFixed(0)} ms, peak RSS +${(growth / MiB).toFixed(1)} MiB, answers ${sizes.join("/")} B`,
    );
    expect(answers.map((r) => r.status)).toEqual([400, 400, 400]);
    for (const s of sizes) expect(s).toBeLessThan(64 * KiB);
    expect(ms).toBeLessThan(4000);
    expect(growth).toBeLessThan(128 * MiB);
  });

  it("the same header sent plain (not gzipped) and in a multipart file: the same 400", async () => {
    // 256 KiB: the loopback socket takes the whole body before the early answer closes the
    // connection, so fetch reads the answer instead of failing on a write (EPIPE).
    const header = Buffer.alloc(256 * KiB, ",");
    const plain = await measure(central, () => post(header, { "content-type": "text/csv" }));
    expect(plain.status).toBe(400);
    expect(JSON.parse(plain.body)).toMatchObject({ code: "SRVUTIL_E_HEADER_TOO_LONG" });
    expect(plain.answerBytes).toBeLessThan(64 * KiB);

    const gz = gzipSync(Buffer.alloc(16_000_000, ","), { level: 9 });
    const form = multipart({}, gz);
    const viaForm = await measure(central, () => post(form.body, { "content-type": form.type }));
    expect(viaForm.status).toBe(400);
    expect(JSON.parse(viaForm.body)).toMatchObject({ code: "SRVUTIL_E_HEADER_TOO_LONG" });
    expect(viaForm.answerBytes).toBeLessThan(64 * KiB);
    expect(viaForm.rssGrowth).toBeLessThan(64 * MiB);
  });

  it("a data line of 8M commas under a good header: 400 line_too_long before it is split", async () => {
    const body = Buffer.concat([Buffer.from(`${V1_HEADER}\n`), Buffer.alloc(8 * MiB, ",")]);
    const cost = await measure(central, () =>
      post(gzipSync(body), { "content-type": "text/csv", "content-encoding": "gzip" }),
    );
    console.log(
      `8M-comma data line: ${cost.status}, answer ${cost.answerBytes} B, ${cost.ms.toFixed(0)} ms, peak RSS +${(cost.rssGrowth / MiB).toFixed(1)} MiB`,
    );
    expect(cost.status).toBe(400);
    expect(JSON.parse(cost.body)).toMatchObject({ code: "SRVUTIL_E_LINE_TOO_LONG", line: 2 });
    expect(cost.answerBytes).toBeLessThan(64 * KiB);
    expect(cost.rssGrowth).toBeLessThan(64 * MiB);
    expect(cost.ms).toBeLessThan(2000);
  });

  it("a header of 65 short columns: 400 too_many_columns", async () => {
    const cols = [...V1_HEADER.split(","), ...Array.from({ length: 53 }, (_, i) => `x${i}`)];
    expect(cols).toHaveLength(65);
    const cost = await measure(central, () =>
      post(Buffer.from(`${cols.join(",")}\n`), { "content-type": "text/csv" }),
    );
    expect(cost.status).toBe(400);
    expect(JSON.parse(cost.body)).toMatchObject({ code: "SRVUTIL_E_TOO_MANY_COLUMNS", line: 1 });
  });

  it("a sample of 65 mounts: 400 too_many_mounts, nothing stored", async () => {
    const ts = new Date(Date.now() - 1_800_000).toISOString();
    const lines = Array.from({ length: 65 }, (_, i) => `${ts},web-01,1,,,100,10,90,/m${i},100,10,90`);
    const rawBefore = central.rawFiles().length;
    const cost = await measure(central, () =>
      post(Buffer.from(`${V1_HEADER}\n${lines.join("\n")}\n`), { "content-type": "text/csv" }),
    );
    expect(cost.status).toBe(400);
    expect(JSON.parse(cost.body)).toMatchObject({
      reason: "too_many_mounts",
      code: "SRVUTIL_E_TOO_MANY_MOUNTS",
    });
    expect(central.rawFiles()).toHaveLength(rawBefore);
  });

  const seedLine = (server: string) =>
    `${seedTime(Date.now() - 3_600_000)},${server},3.1,7.91,3.03,4.88,38.3,"[{""device"": ""/"", ""mountpoint"": ""/"", ""total_gb"": 223.0, ""used_gb"": 128.56, ""free_gb"": 94.44}]"`;
  const bridge = (file: Buffer) => {
    const form = multipart({ server_name: "SEED-01" }, file);
    return fetch(`${central.base}/upload_metrics`, {
      method: "POST",
      headers: { "content-type": form.type },
      body: form.body,
    });
  };

  it("a seed file of one good line and 2,000,000 bad ones: refused once 1,000 lines failed, nothing stored, bounded log", async () => {
    const file = Buffer.concat([
      Buffer.from(`${SEED_HEADER}\n${seedLine("SEED-01")}\n`),
      Buffer.alloc(2_000_000 * 2, "x\n"),
    ]);
    const rawBefore = central.rawFiles().length;
    const logBefore = central.logBytes();
    const cost = await measure(central, () => bridge(file));
    const logGrowth = central.logBytes() - logBefore;
    console.log(
      `seed file, 1 good + 2,000,000 bad lines: ${cost.status}, answer ${cost.answerBytes} B, ${cost.ms.toFixed(0)} ms, peak RSS +${(cost.rssGrowth / MiB).toFixed(1)} MiB, log +${logGrowth} B, longest log line ${central.longestLogLine()} B`,
    );
    expect(cost.status).toBe(400);
    expect(cost.body).toMatch(
      /^Error: line 1003: more than 1000 lines of the file cannot be read \(the first, line 3: expected 8 fields, found 1\).*\(SRVUTIL_E_TOO_MANY_BAD_LINES\)$/,
    );
    expect(cost.answerBytes).toBeLessThan(64 * KiB);
    expect(logGrowth).toBeLessThan(64 * KiB);
    expect(central.longestLogLine()).toBeLessThan(16 * KiB);
    expect(cost.ms).toBeLessThan(2000);
    expect(cost.rssGrowth).toBeLessThan(64 * MiB);
    expect(central.rawFiles()).toHaveLength(rawBefore);
  });

  it("the seed bridge's multipart file whose header is 16M commas: 400 header_too_long, nothing stored", async () => {
    const rawBefore = central.rawFiles().length;
    const cost = await measure(central, () => bridge(Buffer.alloc(256 * KiB, ",")));
    expect(cost.status).toBe(400);
    expect(cost.body).toMatch(
      /^Error: line 1: the header line is longer than 4096 bytes.*\(SRVUTIL_E_HEADER_TOO_LONG\)$/,
    );
    expect(cost.answerBytes).toBeLessThan(1 * KiB);
    expect(central.rawFiles()).toHaveLength(rawBefore);
  });

  it("a seed file of one good line and 1,000 bad ones: the good line stored, the answer and the log name a few and count all", async () => {
    const file = Buffer.from(`${SEED_HEADER}\n${seedLine("SEED-01")}\n${"x,y\n".repeat(1000)}`);
    const rawBefore = central.rawFiles().length;
    const logBefore = central.logBytes();
    const cost = await measure(central, () => bridge(file));
    const logGrowth = central.logBytes() - logBefore;
    expect(cost.status).toBe(200);
    expect(cost.body).toMatch(
      /^File received and saved as .*; 1000 lines skipped: line 3: expected 8 fields, found 2; .*; …$/,
    );
    expect(cost.answerBytes).toBeLessThan(2 * KiB);
    expect(logGrowth).toBeLessThan(8 * KiB);
    expect(central.longestLogLine()).toBeLessThan(8 * KiB);
    expect(central.rawFiles()).toHaveLength(rawBefore + 1);
  });

  it("a body of one row and 16 MiB of trailing line ends: stored, and read in bounded time", async () => {
    const body = Buffer.concat([
      Buffer.from(
        `${V1_HEADER}\n${new Date(Date.now() - 7_200_000).toISOString()},web-01,1,,,100,10,90,/,100,10,90\n`,
      ),
      Buffer.alloc(16 * MiB - 4 * KiB, "\n"),
    ]);
    const cost = await measure(central, () =>
      post(gzipSync(body), { "content-type": "text/csv", "content-encoding": "gzip" }),
    );
    console.log(
      `1 row + 16 MiB of line ends: ${cost.status}, ${cost.ms.toFixed(0)} ms, peak RSS +${(cost.rssGrowth / MiB).toFixed(1)} MiB`,
    );
    expect(cost.status).toBe(201);
    expect(JSON.parse(cost.body)).toMatchObject({ rows: 1 });
    expect(cost.ms).toBeLessThan(3000);
  });
});
