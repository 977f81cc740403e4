import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import { EXIT_CODE } from "../../../src/errors.js";
import { runCli } from "../../helpers/cli.js";
import { recentShift } from "../../helpers/clock.js";
import { makeSelfSignedCert } from "../../helpers/tls.js";
import { csvFor } from "./fixtures.js";

/** The posted and imported files' dates, moved to the last weeks (real clock): inside the ingest horizon. */
const at = recentShift("2026-11-23");

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "srvutil-cli-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function query<T>(dataDir: string, sql: string): T {
  const db = new Database(path.join(dataDir, "srvutil.db"), { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as T;
  } finally {
    db.close();
  }
}

describe("srvutil central token", () => {
  it("adds (token alone on the last line), lists without secrets, revokes", async () => {
    const data = tempDir();
    const env = { ...process.env, SRVUTIL_DATA_DIR: data };
    const add = await runCli(["central", "token", "add", "web-01"], env);
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim().split("\n").at(-1)!;
    expect(token).toMatch(/^srvu_[0-9a-f]{12}_[0-9a-f]{64}$/);
    const viewer = await runCli(["central", "token", "add", "--role", "viewer", "grafana"], env);
    expect(viewer.stdout.trim().split("\n").at(-1)).toMatch(/^srvv_/);

    const list = await runCli(["central", "token", "list"], env);
    expect(list.stdout).toMatch(/^ROLE\s+NAME\s+TOKEN ID\s+CREATED\s+LAST USED\s+STATUS$/m);
    expect(list.stdout).toMatch(
      /agent\s+web-01\s+[0-9a-f]{12}\s+\d{4}-\d\d-\d\dT\d\d:\d\dZ\s+never\s+active/,
    );
    expect(list.stdout).toMatch(/viewer\s+grafana/);
    expect(list.stdout).not.toContain(token.split("_")[2]!);

    const bad = await runCli(["central", "token", "add", "../etc"], env);
    expect(bad.code).toBe(EXIT_CODE.bad_input);
    expect(bad.stderr).toContain("server name");

    const revoke = await runCli(["central", "token", "revoke", "web-01"], env);
    expect(revoke.code).toBe(0);
    expect(query<number>(data, "SELECT COUNT(*) FROM agent_tokens WHERE revoked_at IS NOT NULL")).toBe(1);
    const again = await runCli(["central", "token", "revoke", "web-01"], env);
    expect(again.code).toBe(EXIT_CODE.bad_input);
    expect(again.stderr).toContain("no active agent token");
  });
});

describe("srvutil central import and rebuild", () => {
  it("imports a folder of several servers, skips what is stored, reports bad files; rebuild re-derives the same rows", async () => {
    const data = tempDir();
    const src = tempDir();
    mkdirSync(path.join(src, "web-01"));
    mkdirSync(path.join(src, "db-01", "old"), { recursive: true });
    writeFileSync(path.join(src, "web-01", "a.csv"), csvFor("web-01", at("2026-11-10T00:00:00Z"), 10));
    writeFileSync(
      path.join(src, "web-01", "b.csv.gz"),
      gzipSync(csvFor("web-01", at("2026-11-10T00:25:00Z"), 10)),
    );
    writeFileSync(
      path.join(src, "db-01", "old", "c.csv"),
      csvFor("db-01", at("2026-11-11T00:00:00Z"), 5, ["C:"]),
    );
    writeFileSync(
      path.join(src, "db-01", "copy-of-c.csv"),
      csvFor("db-01", at("2026-11-11T00:00:00Z"), 5, ["C:"]),
    );
    writeFileSync(
      path.join(src, "db-01", "broken.csv"),
      at("timestamp,server\n2026-11-11T00:00:00Z,db-01\n"),
    );
    writeFileSync(path.join(src, "notes.txt"), "not a csv");
    const env = { ...process.env, SRVUTIL_DATA_DIR: data };

    const first = await runCli(["central", "import", src], env);
    expect(first.code).toBe(1); // one file failed
    expect(first.stderr).toContain("broken.csv");
    expect(first.stderr).toMatch(/required column 'cpu_percent'/);
    expect(first.stderr).toMatch(/import: 5\/5 files/);
    expect(first.stdout).toContain("Imported 3 of 5 files");
    expect(first.stdout).toContain("1 already stored");
    // 10 + 10 (5 overlapping timestamps) samples × 2 mounts for web-01, 5 for db-01.
    expect(query<number>(data, "SELECT COUNT(*) FROM samples")).toBe(30 + 5);
    expect(readdirSync(path.join(data, "received_metrics")).sort()).toEqual(["db-01", "web-01"]);

    const second = await runCli(["central", "import", src], env);
    expect(second.stdout).toContain("Imported 0 of 5 files");
    expect(second.stdout).toContain("4 already stored");
    expect(query<number>(data, "SELECT COUNT(*) FROM uploads")).toBe(3);

    const db = new Database(path.join(data, "srvutil.db"));
    db.exec("DELETE FROM samples WHERE server = 'web-01'");
    db.close();
    const rebuild = await runCli(["central", "rebuild"], env);
    expect(rebuild.code, rebuild.stderr).toBe(0);
    expect(rebuild.stdout).toContain("Rebuilt from 3 of 3 raw files");
    expect(query<number>(data, "SELECT COUNT(*) FROM samples")).toBe(35);
    expect(query<number>(data, "SELECT COUNT(*) FROM uploads")).toBe(3);
    expect(query<number>(data, "SELECT SUM(rows) FROM server_stats")).toBe(35);
  });
});

describe("startCentral over a real socket", () => {
  it("serves uploads on a free port and stops cleanly", async () => {
    const data = tempDir();
    const config = loadCentralConfig({ SRVUTIL_DATA_DIR: data, SRVUTIL_LISTEN: "127.0.0.1:0" });
    const central = await startCentral(config);
    try {
      const token = await createAgentToken(central.store, "web-01");
      const res = await fetch(`${central.url}/api/v1/metrics`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
        body: csvFor("web-01", at("2026-11-23T10:00:00Z"), 3),
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ rows: 6, duplicates: 0 });
      expect((await fetch(`${central.url}/readyz`)).status).toBe(200);
    } finally {
      await central.close();
    }
    const log = readdirSync(path.join(data, "Logs"));
    expect(log).toContain("automation.log");
    expect(existsSync(path.join(data, "srvutil.db"))).toBe(true);
  });

  it("re-ingests at startup acknowledged raw files whose commit was lost (power loss with synchronous=NORMAL)", async () => {
    const data = tempDir();
    const config = loadCentralConfig({ SRVUTIL_DATA_DIR: data, SRVUTIL_LISTEN: "127.0.0.1:0" });
    let central = await startCentral(config);
    let uploadId: string;
    try {
      const token = await createAgentToken(central.store, "web-01");
      const res = await fetch(`${central.url}/api/v1/metrics`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
        body: csvFor("web-01", at("2026-11-23T10:00:00Z"), 4),
      });
      expect(res.status).toBe(201);
      uploadId = ((await res.json()) as { upload_id: string }).upload_id;
    } finally {
      await central.close();
    }
    // What a rolled-back WAL tail looks like: the raw file is there, its rows are not.
    const db = new Database(path.join(data, "srvutil.db"));
    db.exec("DELETE FROM samples; DELETE FROM uploads; DELETE FROM server_stats;");
    db.close();
    central = await startCentral(config);
    try {
      expect(query<number>(data, "SELECT COUNT(*) FROM samples")).toBe(8);
      expect(query<string>(data, "SELECT upload_id FROM uploads")).toBe(uploadId);
    } finally {
      await central.close();
    }
  });

  it("speaks TLS when SRVUTIL_TLS_CERT/KEY are set", async () => {
    const data = tempDir();
    const { keyFile: key, certFile: cert } = makeSelfSignedCert(data);
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: data,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_TLS_CERT: cert,
      SRVUTIL_TLS_KEY: key,
    });
    const central = await startCentral(config);
    try {
      expect(central.url).toMatch(/^https:\/\//);
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(`${central.url}/healthz`, { rejectUnauthorized: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on("error", reject);
      });
      expect(status).toBe(200);
    } finally {
      await central.close();
    }
  });
});
