/**
 * store.enrolments on both backends (real SQLite file, real PostgreSQL in a
 * throwaway schema): what a redemption writes, that a refused one writes
 * nothing, and that parallel redemptions of a one-use token from two handles
 * (two central instances) let exactly one through.
 */
import { afterEach, describe, expect, it } from "vitest";
import { newAgentToken } from "../../../src/central/auth/tokens.js";
import { createEnrolmentToken } from "../../../src/central/enrol/tokens.js";
import type { EnrolmentTokenRecord, Storage } from "../../../src/central/storage/store.js";
import { storeBackends, type TempStore } from "../../helpers/store-backends.js";

const backends = await storeBackends();
let temp: TempStore | null = null;
afterEach(async () => {
  await temp?.cleanup();
  temp = null;
});

async function token(store: Storage, over: Partial<Parameters<typeof createEnrolmentToken>[1]> = {}) {
  return createEnrolmentToken(store, {
    servers: "web-*",
    maxUses: 1,
    expiresInMs: 3600_000,
    allowReenrol: false,
    tags: {},
    createdBy: "test",
    ...over,
  });
}

function redeem(store: Storage, t: EnrolmentTokenRecord, server: string, now = Date.now()) {
  return store.enrolments.redeem({
    tokenId: t.tokenId,
    server,
    address: "127.0.0.1",
    now,
    agentToken: newAgentToken(server).record,
  });
}

/** What an enrolment leaves behind: agent tokens, uses spent, log rows. */
async function footprint(store: Storage) {
  const agents = await store.tokens.list("agent");
  const uses = (await store.enrolments.list()).reduce((n, t) => n + t.uses, 0);
  return {
    agents: agents.map((a) => `${a.server}:${a.revokedAt === null ? "active" : "revoked"}`),
    uses,
    log: (await store.enrolments.log()).length,
  };
}

describe.each(backends)("enrolment store on $name", (backend) => {
  it("keeps the record (hash only, tags as a map) and lists it without the secret", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    temp = await backend.make();
    const { token: value, record } = await token(temp.store, {
      maxUses: 3,
      tags: { team: "web", env: "prod" },
    });
    const found = await temp.store.enrolments.find(record.tokenId);
    expect(found).toEqual(record);
    expect(found!.tags).toEqual({ team: "web", env: "prod" });
    const secret = value.split("_")[2]!;
    expect(JSON.stringify(await temp.store.enrolments.list())).not.toContain(secret);
    expect(found!.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(found!.secretHash).not.toBe(secret);
  });

  it("a redemption spends a use, creates the agent token and logs it; revoke stops the next", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    temp = await backend.make();
    const { record } = await token(temp.store, { maxUses: 2 });
    expect(await redeem(temp.store, record, "web-01")).toEqual({ ok: true, replaced: 0 });
    expect(await footprint(temp.store)).toEqual({ agents: ["web-01:active"], uses: 1, log: 1 });
    const [entry] = await temp.store.enrolments.log();
    expect(entry).toMatchObject({ tokenId: record.tokenId, server: "web-01", address: "127.0.0.1" });
    expect(await temp.store.enrolments.revoke(record.tokenId, Date.now())).toBe(true);
    expect(await temp.store.enrolments.revoke(record.tokenId, Date.now())).toBe(false);
    expect(await redeem(temp.store, record, "web-02")).toEqual({ ok: false, reason: "revoked" });
    expect(await footprint(temp.store)).toEqual({ agents: ["web-01:active"], uses: 1, log: 1 });
  });

  it("refuses expired, used-up, unknown and already-enrolled, writing nothing; allow_reenrol replaces the old token", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    temp = await backend.make();
    const s = temp.store;
    const { record: once } = await token(s);
    expect((await redeem(s, once, "web-01")).ok).toBe(true);
    const before = await footprint(s);
    expect(await redeem(s, once, "web-02")).toEqual({ ok: false, reason: "used_up" });
    const { record: short } = await token(s, { expiresInMs: 1000 });
    expect(await redeem(s, short, "web-03", short.expiresAt)).toEqual({ ok: false, reason: "expired" });
    expect(await redeem(s, { ...short, tokenId: "0123456789ab" }, "web-03")).toEqual({
      ok: false,
      reason: "unknown",
    });
    const { record: many } = await token(s, { maxUses: 5 });
    expect(await redeem(s, many, "web-01")).toEqual({ ok: false, reason: "enrolled" });
    expect(await footprint(s)).toEqual(before);

    const { record: again } = await token(s, { allowReenrol: true });
    expect(await redeem(s, again, "web-01")).toEqual({ ok: true, replaced: 1 });
    expect((await footprint(s)).agents.sort()).toEqual(["web-01:active", "web-01:revoked"]);
  });

  it("two instances redeem a one-use token at once, 20 times: exactly one wins each time", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    temp = await backend.make();
    const other = await temp.another();
    for (let round = 0; round < 20; round++) {
      const { record } = await token(temp.store);
      const outcomes = await Promise.all([
        redeem(temp.store, record, `web-a${round}`),
        redeem(other, record, `web-b${round}`),
        redeem(temp.store, record, `web-c${round}`),
        redeem(other, record, `web-d${round}`),
      ]);
      expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
      expect(outcomes.filter((o) => !o.ok).map((o) => !o.ok && o.reason)).toEqual([
        "used_up",
        "used_up",
        "used_up",
      ]);
      expect((await temp.store.enrolments.find(record.tokenId))!.uses).toBe(1);
    }
    const f = await footprint(temp.store);
    expect(f.agents).toHaveLength(20);
    expect(f.log).toBe(20);
  });

  it("two tokens enrol the same new name at once: one wins, the other is told it is enrolled", async (ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
    temp = await backend.make();
    const other = await temp.another();
    for (let round = 0; round < 10; round++) {
      const { record: a } = await token(temp.store);
      const { record: b } = await token(other);
      const outcomes = await Promise.all([
        redeem(temp.store, a, `web-${round}`),
        redeem(other, b, `web-${round}`),
      ]);
      expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
      expect(outcomes.find((o) => !o.ok)).toEqual({ ok: false, reason: "enrolled" });
    }
    expect((await footprint(temp.store)).agents).toHaveLength(10);
  });
});

describe("enrolment store on SQLite, across processes", () => {
  it("four processes redeem each of 10 one-use tokens at the same instant: exactly one wins each", async () => {
    const { spawn } = await import("node:child_process");
    const path = await import("node:path");
    const { fileURLToPath } = await import("node:url");
    const here = path.dirname(fileURLToPath(import.meta.url));
    const sqlite = backends[0];
    temp = await sqlite.make();
    const file = path.join(temp.dir, "srvutil.db");
    const tokens: string[] = [];
    for (let i = 0; i < 10; i++) tokens.push((await token(temp.store)).record.tokenId);
    // Far enough ahead that every process has started (tsx) before the first round.
    const start = Date.now() + 6000;
    const run = (prefix: string) =>
      new Promise<boolean[]>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", path.join(here, "fixtures/redeem-process.ts")],
          {
            cwd: path.resolve(here, "../../.."),
            env: {
              ...process.env,
              DB_FILE: file,
              TOKENS: tokens.join(","),
              START: String(start),
              STEP: "200",
              PREFIX: prefix,
            },
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => {
          out += d;
        });
        child.stderr.on("data", (d) => {
          err += d;
        });
        child.on("close", (code) =>
          code === 0 ? resolve(JSON.parse(out) as boolean[]) : reject(new Error(`exit ${code}: ${err}`)),
        );
      });
    const results = await Promise.all(["web-p", "web-q", "web-r", "web-s"].map(run));
    expect(Date.now()).toBeGreaterThan(start);
    for (let i = 0; i < 10; i++) expect(results.filter((r) => r[i]).length, `round ${i}`).toBe(1);
    const list = await temp.store.enrolments.list();
    expect(list.every((t) => t.uses === 1)).toBe(true);
    expect(await temp.store.tokens.list("agent")).toHaveLength(10);
    expect(await temp.store.enrolments.log()).toHaveLength(10);
  }, 60_000);
});
