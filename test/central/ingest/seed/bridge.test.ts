/**
 * POST /upload_metrics, the bridge for the seed system's deployed agents:
 * a Python agent shaped like the seed's (Debian's python3-psutil and
 * python3-requests) posting over real HTTP, and the refusals (unknown
 * server, an address outside SRVUTIL_SEED_COMPAT_NETWORKS) that store nothing.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningCentral, startCentral } from "../../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../../src/central/config.js";
import { createAgentToken } from "../../../../src/central/http/app.js";
import { SEED_HEADER } from "../../../../src/central/ingest/seed/parse-seed.js";
import type { MetricRow } from "../../../../src/protocol/index.js";
import { REPO_ROOT } from "../../../helpers/cli.js";
import { fakedClockEnv, recentShift } from "../../../helpers/clock.js";
import { makeTestCentral } from "../fixtures.js";

/** The hand-written seed lines' dates, moved to last week (real clock) so the ingest horizon never refuses them. */
const at = recentShift("2026-11-30");

const run = promisify(execFile);
// Debian's interpreter, where apt put psutil and requests (a pyenv python3 may come first on PATH).
const PYTHON = "/usr/bin/python3";
const AGENT = path.join(REPO_ROOT, "test/fixtures/seed-agent/seed_agent.py");

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A multipart POST from a chosen local address (node:http, so the source address is ours to pick). */
function postForm(
  url: string,
  fields: Record<string, string>,
  file: { name: string; bytes: Buffer } | null,
  localAddress = "127.0.0.1",
): Promise<{ status: number; text: string; type: string }> {
  const boundary = `----srvutil${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  if (file !== null) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n\r\n`,
      ),
      file.bytes,
      Buffer.from("\r\n"),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const body = Buffer.concat(parts);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        localAddress,
        headers: {
          "content-type": `multipart/form-data; boundary=${boundary}`,
          "content-length": body.length,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text, type: String(res.headers["content-type"]) }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function seedFile(lines: string[]): Buffer {
  return Buffer.from(`${SEED_HEADER}\r\n${lines.join("\r\n")}\r\n`);
}
const disksJson = (mount: string, total: number, used: number, free: number) =>
  `"[{""device"": ""${mount}"", ""mountpoint"": ""${mount}"", ""total_gb"": ${total}, ""used_gb"": ${used}, ""free_gb"": ${free}}]"`;

describe("the seed bridge with a seed-shaped Python agent", () => {
  let central: RunningCentral;
  let data: string;
  const name = "SEED-PY-01";

  const uploads = () => {
    const db = new Database(path.join(data, "srvutil.db"), { readonly: true });
    try {
      return db.prepare("SELECT COUNT(*) FROM uploads").pluck().get() as number;
    } finally {
      db.close();
    }
  };
  const rawFiles = () =>
    existsSync(path.join(data, "received_metrics"))
      ? readdirSync(path.join(data, "received_metrics"), { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => path.join(e.parentPath, e.name))
      : [];
  async function rowsOf(server: string): Promise<MetricRow[]> {
    const out: MetricRow[] = [];
    for await (const r of central.store.samples({
      from: 0,
      to: Date.now() + 86_400_000,
      servers: [server],
    })) {
      out.push(r);
    }
    return out;
  }
  async function agent(args: string[], cwd: string, serverName: string): Promise<string> {
    const { stdout } = await run(PYTHON, [AGENT, ...args], {
      cwd,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        TZ: "Europe/Berlin",
        SEED_SERVER_NAME: serverName,
        ...fakedClockEnv(),
      },
      timeout: 60_000,
    });
    return stdout.trim();
  }

  /** The mount points the agent will report: psutil's partitions that it can read, as the agent does. */
  async function partitionsPsutilLists(): Promise<string[]> {
    const { stdout } = await run(PYTHON, [
      "-c",
      "import json, psutil\nout = []\nfor p in psutil.disk_partitions(all=False):\n    try:\n        psutil.disk_usage(p.mountpoint)\n    except PermissionError:\n        continue\n    out.append(p.mountpoint)\nprint(json.dumps(sorted(set(out))))",
    ]);
    return JSON.parse(stdout) as string[];
  }

  beforeAll(async () => {
    // A missing package fails here, loudly: CI installs python3-psutil and python3-requests.
    await run(PYTHON, ["-c", "import psutil, requests"]);
    data = tempDir("srvutil-bridge-");
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: data,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_SEED_COMPAT: "on",
      // Loopback's 127.0.0.1 only, so a request from 127.0.0.2 (also this machine) comes from outside.
      SRVUTIL_SEED_COMPAT_NETWORKS: "127.0.0.1/32, ::1/128",
    });
    central = await startCentral(config);
    await createAgentToken(central.store, name);
  });
  afterAll(async () => {
    await central?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("warns at start, naming the networks", () => {
    // Besides the agent downloads' warning, which depends on whether this checkout built the executables.
    expect(central.warnings.filter((w) => !w.startsWith("agent downloads:"))).toEqual([
      "seed bridge on: POST /upload_metrics accepts uploads without a token from 127.0.0.1/32, ::1/128 for enrolled servers",
    ]);
    const log = readFileSync(path.join(data, "Logs", "automation.log"), "utf8");
    const entry = log
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { level: string; event: string; networks?: string[] })
      .find((e) => e.event === "seed bridge on");
    expect(entry).toMatchObject({ level: "warn", networks: ["127.0.0.1/32", "::1/128"] });
  });

  it("stores what the agent collected, in the one ingest path, and answers 200 with a short text", async () => {
    // What psutil lists here decides what the agent sends: "/" on a machine or VM,
    // nothing in a chroot or some containers (their root is not a physical device).
    const mounts = await partitionsPsutilLists();
    const cwd = tempDir("srvutil-seed-agent-");
    const started = Date.now();
    await agent(["collect"], cwd, name);
    await agent(["collect"], cwd, name);
    const answer = await agent(["upload", `${central.url}/upload_metrics`], cwd, name);
    expect(existsSync(path.join(cwd, "metrics", "server_metrics.csv"))).toBe(false);
    if (mounts.length === 0) {
      // Every line lists no partition: refused as the seed-format contract says, and nothing stored.
      expect(answer).toBe(
        "400 Error: line 2, column disk_info_json: none of the file's 2 lines can be read; the first: lists no partition (SRVUTIL_E_CONSISTENCY)",
      );
      expect(await rowsOf(name)).toEqual([]);
      expect(rawFiles()).toEqual([]);
      return;
    }
    expect(answer).toMatch(
      /^200 File received and saved as received_metrics\/SEED-PY-01\/\d{4}-\d{2}-\d{2}\/\d{8}T\d{9}Z-[0-9a-f]{12}\.seed\.Europe%2FBerlin\.csv$/,
    );

    const rows = await rowsOf(name);
    const times = [...new Set(rows.map((r) => r.timestamp))];
    expect(times).toHaveLength(2);
    // The agent wrote Berlin wall-clock time without a zone; read in Europe/Berlin it is now.
    for (const t of times) {
      expect(t).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000 - 1000);
      expect(t).toBeLessThanOrEqual(Date.now());
    }
    expect([...new Set(rows.map((r) => r.diskMount))].sort()).toEqual(mounts);
    for (const r of rows) {
      expect(r.memUsedBytes).toBe(r.memTotalBytes - r.memAvailableBytes);
      expect(r.diskUsedBytes).toBeLessThanOrEqual(r.diskTotalBytes);
    }
    const raw = rawFiles();
    expect(raw).toHaveLength(1);
    expect(readFileSync(raw[0]!, "utf8").startsWith(`${SEED_HEADER}\r\n`)).toBe(true);
  });

  it("refuses an unknown server with 403 and stores nothing (the agent deletes its file anyway)", async () => {
    const before = { uploads: uploads(), raw: rawFiles().length };
    const cwd = tempDir("srvutil-seed-agent-");
    await agent(["collect"], cwd, "NOT-ENROLLED");
    const answer = await agent(["upload", `${central.url}/upload_metrics`], cwd, "NOT-ENROLLED");
    expect(answer).toBe(
      "403 Forbidden: server 'NOT-ENROLLED' is not enrolled (srvutil central token add NAME) (SRVUTIL_E_NOT_ENROLLED)",
    );
    expect(await rowsOf("NOT-ENROLLED")).toEqual([]);
    expect({ uploads: uploads(), raw: rawFiles().length }).toEqual(before);
  });

  it("refuses a request from outside the allowed networks, even for an enrolled server", async () => {
    const before = { uploads: uploads(), raw: rawFiles().length, rows: (await rowsOf(name)).length };
    const file = seedFile([
      at(`2026-11-30 10:00:00,${name},5.0,8.0,1.0,6.0,25.0,${disksJson("/", 10.0, 1.0, 9.0)}`),
    ]);
    const outside = await postForm(
      `${central.url}/upload_metrics`,
      { server_name: name },
      { name: "server_metrics.csv", bytes: file },
      "127.0.0.2",
    );
    expect(outside.status).toBe(403);
    expect(outside.type).toMatch(/^text\/plain/);
    expect(outside.text).toBe(
      "Forbidden: this address may not upload (SRVUTIL_SEED_COMPAT_NETWORKS) (SRVUTIL_E_FORBIDDEN_NETWORK)",
    );
    expect({ uploads: uploads(), raw: rawFiles().length, rows: (await rowsOf(name)).length }).toEqual(before);

    // The same request from an allowed address goes through: it was the address that was refused.
    const inside = await postForm(
      `${central.url}/upload_metrics`,
      { server_name: name },
      { name: "server_metrics.csv", bytes: file },
    );
    expect(inside.status).toBe(200);
    expect(uploads()).toBe(before.uploads + 1);
  });

  it("skips a bad line and keeps the rest and the raw file; a replay and a foreign row change nothing", async () => {
    const file = seedFile([
      at(`2026-11-30 11:00:00,${name},7.0,8.0,1.0,6.0,25.0,${disksJson("C:\\\\", 100.0, 20.0, 80.0)}`),
      at(`2026-11-30 11:20:00,${name},8.0,8.0,1.0,6.0,25.0,${disksJson("C:\\\\", 100.0, 1628.56, 80.0)}`),
    ]);
    const first = await postForm(
      `${central.url}/upload_metrics`,
      { server_name: name },
      { name: "server_metrics.csv", bytes: file },
    );
    expect(first.status).toBe(200);
    expect(first.text).toMatch(
      /^File received and saved as received_metrics\/SEED-PY-01\/.*; 1 line skipped: line 3, column disk_info_json: C:: used 1628\.56 GB is more than total 100 GB$/,
    );
    const rawPath = first.text.split(" ")[5]!.replace(/;$/, "");
    expect(readFileSync(path.join(data, rawPath)).equals(file)).toBe(true);
    const drive = (await rowsOf(name)).filter((r) => r.diskMount === "C:");
    expect(drive.map((r) => r.cpuPercent)).toEqual([7]);
    const log = readFileSync(path.join(data, "Logs", "automation.log"), "utf8");
    expect(log).toContain("seed bridge skipped lines");

    const before = { uploads: uploads(), raw: rawFiles().length };
    const replay = await postForm(
      `${central.url}/upload_metrics`,
      { server_name: name },
      { name: "server_metrics.csv", bytes: file },
    );
    expect(replay.status).toBe(200);
    expect(replay.text).toBe(`File already received as ${rawPath}`);

    const foreign = seedFile([
      at(`2026-11-30 12:00:00,OTHER-01,7.0,8.0,1.0,6.0,25.0,${disksJson("/", 1.0, 0.5, 0.5)}`),
    ]);
    const refused = await postForm(
      `${central.url}/upload_metrics`,
      { server_name: name },
      { name: "server_metrics.csv", bytes: foreign },
    );
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("names server 'OTHER-01'");
    expect({ uploads: uploads(), raw: rawFiles().length }).toEqual(before);
  });

  it("answers the seed's own texts for a form without a name or a file, and 400 for a file with no readable line", async () => {
    const url = `${central.url}/upload_metrics`;
    const file = { name: "server_metrics.csv", bytes: seedFile([at("2026-11-30 10:00:00,x")]) };
    expect(await postForm(url, {}, file)).toMatchObject({
      status: 400,
      text: "Server name missing (SRVUTIL_E_BAD_BODY)",
    });
    expect(await postForm(url, { server_name: name }, null)).toMatchObject({
      status: 400,
      text: "No file part (SRVUTIL_E_BAD_BODY)",
    });
    expect(await postForm(url, { server_name: name }, { name: "", bytes: file.bytes })).toMatchObject({
      status: 400,
      text: "No selected file (SRVUTIL_E_BAD_BODY)",
    });
    const bad = await postForm(url, { server_name: name }, file);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Error: line 2: none of the file's 1 lines can be read/);
    expect(bad.text).toMatch(/ \(SRVUTIL_E_[A-Z_]+\)$/);
  });
});

describe("the seed bridge with raw uploads in the database (SRVUTIL_RAW_STORE=database)", () => {
  it("answers that the file is saved in the database, and it is, byte for byte, with no file on disk", async () => {
    const data = tempDir("srvutil-bridge-db-");
    const central = await startCentral(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: data,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
        SRVUTIL_SEED_COMPAT: "on",
        SRVUTIL_RAW_STORE: "database",
      }),
    );
    try {
      await createAgentToken(central.store, "SEED-DB-01");
      const file = seedFile([
        at(`2026-11-30 11:00:00,SEED-DB-01,7.0,8.0,1.0,6.0,25.0,${disksJson("/", 100.0, 20.0, 80.0)}`),
      ]);
      const post = () =>
        postForm(
          `${central.url}/upload_metrics`,
          { server_name: "SEED-DB-01" },
          { name: "m.csv", bytes: file },
        );
      const first = await post();
      expect(first.status).toBe(200);
      const match =
        /^File received and saved in the database as (received_metrics\/SEED-DB-01\/\S+\.csv)$/.exec(
          first.text,
        );
      expect(match, first.text).not.toBeNull();
      expect(existsSync(path.join(data, "received_metrics"))).toBe(false);
      const stored = await central.store.rawUploads.page(null, 10);
      expect(stored.map((r) => r.rawPath)).toEqual([match![1]]);
      expect(Buffer.from(stored[0]!.bytes).equals(file)).toBe(true);

      const replay = await post();
      expect(replay.text).toBe(`File already received in the database as ${match![1]}`);
      expect(await central.store.rawUploads.count()).toBe(1);
    } finally {
      await central.close();
    }
  });
});

describe("the seed bridge is off by default", () => {
  it("has no /upload_metrics route unless SRVUTIL_SEED_COMPAT=on", async () => {
    const t = await makeTestCentral();
    try {
      expect(t.config.seedCompat).toEqual({ enabled: false, networks: ["127.0.0.0/8", "::1/128"] });
      const res = await t.app.inject({ method: "POST", url: "/upload_metrics", payload: "" });
      expect(res.statusCode).toBe(404);
    } finally {
      await t.cleanup();
    }
  });
});
