/**
 * Failed token authentications are limited per client address (issue 24,
 * point 4: 2,000 well-formed unknown tokens used to get 2,000 × 401 at about
 * 1,300/s, each a database lookup). Real central (startCentral, SQLite), real
 * sockets: 127.0.0.1 guesses, 127.0.0.3 is an honest client elsewhere.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { httpRequest } from "../../helpers/http.js";
import { csvFor } from "../ingest/fixtures.js";

const unknownToken = (prefix: "srvu" | "srvv") =>
  `${prefix}_${randomBytes(6).toString("hex")}_${randomBytes(32).toString("hex")}`;

describe("failed token authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE=30, the default)", () => {
  let dir: string;
  let c: RunningCentral;
  let agentToken: string;
  let viewerToken: string;
  let lookups = 0;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-auth-failures-"));
    const store = new SqliteStore(path.join(dir, "srvutil.db"));
    await store.init();
    agentToken = await createAgentToken(store, "web-01");
    viewerToken = await createViewerToken(store, "grafana");
    // Counts the database lookups of tokens: the cost the limit is there to bound.
    const find = store.tokens.find.bind(store.tokens);
    store.tokens.find = async (role, id) => {
      lookups++;
      return find(role, id);
    };
    c = await startCentral(
      loadCentralConfig({ SRVUTIL_DATA_DIR: dir, SRVUTIL_LISTEN: "127.0.0.1:0", SRVUTIL_REPORT_CRON: "off" }),
      { store },
    );
  });
  afterAll(async () => {
    await c?.close();
    await c?.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers 2,000 unknown agent tokens with about 30 lookups (30 at once, one per 2 s after), the rest 429 with Retry-After", async () => {
    lookups = 0;
    const statuses = new Map<number, number>();
    let retryAfter: string | undefined;
    const started = performance.now();
    const queue = Array.from({ length: 2000 }, () => unknownToken("srvu"));
    // 50 clients at a time, as fast as they can.
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        for (let token = queue.pop(); token !== undefined; token = queue.pop()) {
          const res = await fetch(`${c.url}/api/v1/metrics`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
            body: "x",
          });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 429) retryAfter ??= res.headers.get("retry-after") ?? "missing";
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const unauthorized = statuses.get(401) ?? 0;
    const throttled = statuses.get(429) ?? 0;
    console.log(
      `2,000 unknown tokens: ${unauthorized} × 401, ${throttled} × 429, ${lookups} lookups, ${seconds.toFixed(2)} s (${Math.round(2000 / seconds)}/s)`,
    );
    expect(unauthorized + throttled).toBe(2000);
    // 30 at once, plus one every 2 s while the test runs.
    expect(unauthorized).toBeGreaterThanOrEqual(30);
    expect(unauthorized).toBeLessThanOrEqual(30 + Math.ceil(seconds / 2));
    expect(lookups).toBe(unauthorized);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(2);
  });

  it("keeps answering a valid token from another address, and a cached agent token even from the throttled one", async () => {
    // 127.0.0.1 has spent its allowance above; 127.0.0.3 has not.
    const csv = csvFor("web-01", new Date(Date.now() - 3_600_000).toISOString(), 3);
    const upload = (from: string) =>
      httpRequest(`${c.url}/api/v1/metrics`, {
        method: "POST",
        localAddress: from,
        headers: { authorization: `Bearer ${agentToken}`, "content-type": "text/csv" },
        body: csv,
      });
    expect((await upload("127.0.0.3")).status).toBe(201);
    // The agent token is in the central's memory (checked against its hash there): no lookup
    // needed, so an agent behind the same NAT as the guesser keeps uploading.
    expect((await upload("127.0.0.1")).status).toBe(201);

    const servers = (from: string) =>
      httpRequest(`${c.url}/api/v1/servers`, {
        localAddress: from,
        headers: { authorization: `Bearer ${viewerToken}` },
      });
    expect((await servers("127.0.0.3")).status).toBe(200);
    // A viewer token would need a lookup: the throttled address waits like everyone there.
    // The allowance refills one failure every 2 s, and the uploads above may have taken that
    // long on a loaded machine: spend what came back, then ask at once.
    const servers127 = (token: string) =>
      httpRequest(`${c.url}/api/v1/servers`, {
        localAddress: "127.0.0.1",
        headers: { authorization: `Bearer ${token}` },
      });
    const spendAllowance = async () => {
      for (let i = 0; i < 5; i++) {
        const res = await servers127(unknownToken("srvv"));
        if (res.status === 429) return;
      }
      throw new Error("127.0.0.1 is not throttled after 5 more unknown tokens");
    };
    await spendAllowance();
    const refused = await servers("127.0.0.1");
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text)).toMatchObject({ reason: "auth_throttled" });
    expect(refused.headers["retry-after"]).toMatch(/^[12]$/);
  });

  it("counts the read API's and whoami's failures against the same address", async () => {
    const from = "127.0.0.4";
    const answers: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await httpRequest(`${c.url}/api/v1/servers`, {
        localAddress: from,
        headers: { authorization: `Bearer ${unknownToken("srvv")}` },
      });
      answers.push(res.status);
    }
    for (let i = 0; i < 20; i++) {
      const res = await httpRequest(`${c.url}/api/v1/agent/whoami`, {
        localAddress: from,
        headers: { authorization: `Bearer ${unknownToken("srvu")}` },
      });
      answers.push(res.status);
    }
    expect(answers.filter((s) => s === 401).length).toBeGreaterThanOrEqual(30);
    expect(answers.filter((s) => s === 401).length).toBeLessThanOrEqual(32);
    expect(answers.slice(-5)).toEqual([429, 429, 429, 429, 429]);
    // A request without any token costs no lookup and is not counted.
    const none = await httpRequest(`${c.url}/api/v1/servers`, { localAddress: "127.0.0.5" });
    expect(none.status).toBe(401);
  });
});
