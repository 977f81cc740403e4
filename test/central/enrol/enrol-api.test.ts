/**
 * POST /api/v1/enrol on a real central (startCentral) over loopback, on a
 * real SQLite file and on real PostgreSQL: each abuse is refused with its
 * code and a message that says what to do, and leaves nothing behind; a
 * one-use token raced by parallel requests enrols exactly one server; the
 * refusals spend the per-address failed-auth allowance that uploads share.
 * Each test speaks from its own loopback address, so their allowances are apart.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createEnrolmentToken, type NewEnrolmentToken } from "../../../src/central/enrol/tokens.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { httpRequest } from "../../helpers/http.js";
import { storeBackends, type TempStore } from "../../helpers/store-backends.js";

const backends = await storeBackends();

describe.each(backends)("POST /api/v1/enrol on $name", (backend) => {
  let temp: TempStore;
  let c: RunningCentral;
  let logFile: string;

  beforeAll(async () => {
    if (backend.skipReason) return;
    temp = await backend.make();
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: temp.dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_AUTH_FAILURES_PER_MINUTE: "10",
    });
    logFile = config.paths.automationLog;
    c = await startCentral(config, { store: temp.store });
  });
  afterAll(async () => {
    await c?.close();
    await temp?.cleanup();
  });

  const store = (): Storage => temp.store;
  const make = async (over: Partial<NewEnrolmentToken> = {}) =>
    createEnrolmentToken(store(), {
      servers: "web-*",
      maxUses: 1,
      expiresInMs: 3600_000,
      allowReenrol: false,
      tags: {},
      createdBy: "test",
      ...over,
    });
  const enrol = async (token: string | null, server: string, from: string) => {
    const a = await httpRequest(`${c.url}/api/v1/enrol`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ server }),
      localAddress: from,
    });
    return { status: a.status, body: JSON.parse(a.text) as Record<string, unknown>, headers: a.headers };
  };
  const footprint = async () => ({
    agents: (await store().tokens.list("agent"))
      .map((t) => `${t.server}:${t.revokedAt === null ? "active" : "revoked"}`)
      .sort(),
    uses: (await store().enrolments.list()).map((t) => `${t.tokenId}:${t.uses}`).sort(),
    log: (await store().enrolments.log()).length,
  });

  it("enrols a new server: 201 with its agent token, which then authenticates; logged without secrets", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    const { token, record } = await make({ maxUses: 2 });
    const a = await enrol(token, "web-new", "127.0.0.11");
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ server: "web-new", replaced: 0 });
    const agentToken = a.body.token as string;
    expect(agentToken).toMatch(/^srvu_[0-9a-f]{12}_[0-9a-f]{64}$/);
    const who = await httpRequest(`${c.url}/api/v1/agent/whoami`, {
      headers: { authorization: `Bearer ${agentToken}` },
    });
    expect(JSON.parse(who.text)).toEqual({
      server: "web-new",
      agent_version_current: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect((await store().enrolments.find(record.tokenId))!.uses).toBe(1);
    const [entry] = await store().enrolments.log(1);
    expect(entry).toMatchObject({
      server: "web-new",
      tokenId: record.tokenId,
      address: "127.0.0.11",
      agentTokenId: a.body.token_id,
    });
    const log = readFileSync(logFile, "utf8");
    expect(log).toMatch(/"server enrolled"/);
    expect(log).toContain(`"enrolmentTokenId":"${record.tokenId}"`);
    expect(log).not.toContain(token.split("_")[2]!);
    expect(log).not.toContain(agentToken.split("_")[2]!);
  });

  it("refuses each abuse with its code and what to do, and creates nothing", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    await createAgentToken(store(), "web-taken");
    const usedUp = await make();
    expect((await enrol(usedUp.token, "web-first", "127.0.0.12")).status).toBe(201);
    const expired = await make({ expiresInMs: 1000 });
    const revoked = await make({ maxUses: 5 });
    await store().enrolments.revoke(revoked.record.tokenId, Date.now());
    const plenty = await make({ maxUses: 5 });
    const unknown = `srve_${randomBytes(6).toString("hex")}_${randomBytes(32).toString("hex")}`;
    const wrongSecret = `srve_${plenty.record.tokenId}_${randomBytes(32).toString("hex")}`;
    // The real clock: wait until the one-second token has expired.
    await new Promise((r) => setTimeout(r, Math.max(0, expired.record.expiresAt - Date.now()) + 50));
    const before = await footprint();

    const cases: [string, string | null, string, number, string, RegExp][] = [
      [
        "expired",
        expired.token,
        "web-x1",
        403,
        "SRVUTIL_E_ENROL_TOKEN_EXPIRED",
        /has expired: create a new one/,
      ],
      ["used up", usedUp.token, "web-x2", 403, "SRVUTIL_E_ENROL_TOKEN_USED_UP", /has no use left/],
      [
        "outside the glob",
        plenty.token,
        "db-01",
        403,
        "SRVUTIL_E_ENROL_NAME_NOT_ALLOWED",
        /enrols servers 'web-\*' only, not 'db-01'/,
      ],
      [
        "already enrolled",
        plenty.token,
        "web-taken",
        409,
        "SRVUTIL_E_ALREADY_ENROLLED",
        /server 'web-taken' is enrolled already .*--allow-reenrol/,
      ],
      ["revoked", revoked.token, "web-x3", 403, "SRVUTIL_E_ENROL_TOKEN_REVOKED", /is revoked/],
      ["unknown", unknown, "web-x4", 401, "SRVUTIL_E_ENROL_TOKEN_UNKNOWN", /unknown enrolment token/],
      [
        "wrong secret",
        wrongSecret,
        "web-x5",
        401,
        "SRVUTIL_E_ENROL_TOKEN_UNKNOWN",
        /unknown enrolment token/,
      ],
      [
        "an agent token",
        await createAgentToken(store(), "web-agent"),
        "web-x6",
        401,
        "SRVUTIL_E_ENROL_TOKEN_UNKNOWN",
        /srve_/,
      ],
      ["no token", null, "web-x7", 401, "SRVUTIL_E_ENROL_TOKEN_UNKNOWN", /Authorization: Bearer srve_/],
      ["a bad name", plenty.token, "web x8/..", 400, "SRVUTIL_E_BAD_REQUEST", /server name 'web x8\/\.\.'/],
    ];
    const afterAgent = await footprint();
    expect(afterAgent.agents).toEqual([...before.agents, "web-agent:active"].sort());
    for (const [what, token, server, status, code, message] of cases) {
      const a = await enrol(token, server, "127.0.0.13");
      expect({ what, status: a.status, code: a.body.code }).toEqual({ what, status, code });
      expect(a.body.error, what).toMatch(message);
    }
    expect(await footprint()).toEqual(afterAgent);
    const log = readFileSync(logFile, "utf8");
    expect(log).toMatch(/"enrolment refused".*"reason":"expired"/);
    expect(log).not.toContain(plenty.token.split("_")[2]!);
  });

  it("re-enrolment of an existing name with an --allow-reenrol token replaces its agent token", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    const old = await createAgentToken(store(), "web-moved");
    const { token } = await make({ allowReenrol: true });
    const a = await enrol(token, "web-moved", "127.0.0.14");
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ server: "web-moved", replaced: 1 });
    const whoOld = await httpRequest(`${c.url}/api/v1/agent/whoami`, {
      headers: { authorization: `Bearer ${old}` },
    });
    expect(whoOld.status).toBe(401);
    const whoNew = await httpRequest(`${c.url}/api/v1/agent/whoami`, {
      headers: { authorization: `Bearer ${a.body.token as string}` },
    });
    expect(whoNew.status).toBe(200);
  });

  it("8 parallel enrolments with a one-use token: exactly one 201, seven 403 used up, one agent token", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    const { token, record } = await make();
    const before = await footprint();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => enrol(token, `web-race-${i}`, `127.0.1.${i + 1}`)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 403, 403, 403, 403, 403, 403, 403]);
    expect(
      answers.filter((a) => a.status === 403).every((a) => a.body.code === "SRVUTIL_E_ENROL_TOKEN_USED_UP"),
    ).toBe(true);
    const after = await footprint();
    expect(after.agents.length - before.agents.length).toBe(1);
    expect(after.log - before.log).toBe(1);
    expect((await store().enrolments.find(record.tokenId))!.uses).toBe(1);
  });

  it("refusals spend the address's failed-auth allowance (shared with uploads); a success gives its own back", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    const good = await make({ maxUses: 3 });
    // A success first: it does not count.
    expect((await enrol(good.token, "web-thr-1", "127.0.0.15")).status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await enrol(good.token, "db-outside", "127.0.0.15")).status);
    expect(statuses).toEqual(Array(10).fill(403));
    const throttled = await enrol(good.token, "web-thr-2", "127.0.0.15");
    expect(throttled.status).toBe(429);
    expect(throttled.body.code).toBe("SRVUTIL_E_AUTH_THROTTLED");
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThan(0);
    // The same bucket as the other routes: an upload from that address is throttled too.
    const upload = await httpRequest(`${c.url}/api/v1/agent/whoami`, {
      headers: { authorization: `Bearer srvu_${"0".repeat(12)}_${"0".repeat(64)}` },
      localAddress: "127.0.0.15",
    });
    expect(upload.status).toBe(429);
    // Another address is not.
    expect((await enrol(good.token, "web-thr-3", "127.0.0.16")).status).toBe(201);
    expect((await store().enrolments.find(good.record.tokenId))!.uses).toBe(2);
  });

  it("is in the OpenAPI document with its body schema; a body that is not JSON is 400", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    const doc = JSON.parse((await httpRequest(`${c.url}/api/v1/openapi.json`)).text);
    const op = doc.paths["/api/v1/enrol"].post;
    expect(Object.keys(op.responses).sort()).toEqual(["201", "400", "401", "403", "409", "429"]);
    expect(op.requestBody.content["application/json"].schema.required).toEqual(["server"]);
    const bad = await httpRequest(`${c.url}/api/v1/enrol`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer x" },
      body: "{not json",
      localAddress: "127.0.0.17",
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).code).toBe("SRVUTIL_E_BAD_BODY");
  });
});
