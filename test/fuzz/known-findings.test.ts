/**
 * Keeps KNOWN_FINDINGS honest: each entry's probe (one request that shows
 * the finding) must still break the fuzz property in exactly the way the
 * entry describes. When a probe stops reproducing, the fix of its issue point
 * has landed: delete the entry (and its probe), so the fuzz suite holds that
 * route to the full property again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/central/dashboard/sessions.js";
import { SEED_HEADER } from "../../src/central/ingest/seed/parse-seed.js";
import { seed, VIEWER } from "../central/dashboard/harness.js";
import { findTestPostgres } from "../helpers/postgres.js";
import { checkExchange, type FuzzCentral, type FuzzRequest, startFuzzCentral } from "./harness.js";
import { KNOWN_FINDINGS } from "./known-findings.js";
import { bridgeForm } from "./seed-cases.js";

const FORM = "application/x-www-form-urlencoded";

function signIn(username: string, password: string, next = "/"): FuzzRequest {
  const login = newToken();
  return {
    method: "POST",
    url: "/login",
    headers: { "content-type": FORM, cookie: `srvutil_login=${login}` },
    body: new URLSearchParams({ _csrf: login, username, password, next }).toString(),
  };
}

/** One request per finding that shows it, and the backend it shows on. */
const PROBES: Record<string, { backend: "sqlite" | "postgres"; request: (c: FuzzCentral) => FuzzRequest }> = {
  "csrf-non-ascii-500": {
    backend: "sqlite",
    request: () => ({
      method: "POST",
      url: "/login",
      headers: { "content-type": FORM, cookie: `srvutil_login=${"a".repeat(43)}` },
      body: new URLSearchParams({ _csrf: "é".repeat(43), username: "x", password: "y" }).toString(),
    }),
  },
  "csv-header-echo": {
    backend: "sqlite",
    request: (c) => ({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { authorization: `Bearer ${c.agentToken}`, "content-type": "text/csv" },
      body: `${",".repeat(40_000)}\n`,
    }),
  },
  "automation-log-line-size": {
    backend: "sqlite",
    request: () => {
      const ts = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 19).replace("T", " ");
      const good = `${ts},web-01,3.1,7.91,3.03,4.88,38.3,"[{""mountpoint"": ""/"", ""total_gb"": 10, ""used_gb"": 1, ""free_gb"": 9}]"`;
      const bad = "garbage,web-01,x,1,1,1,1,[]\n".repeat(2_000);
      return bridgeForm([
        { name: "server_name", body: "web-01" },
        { name: "file", filename: "web-01.csv", body: `${SEED_HEADER}\n${good}\n${bad}` },
      ]);
    },
  },
  "next-invalid-header-500": {
    backend: "sqlite",
    request: () => signIn(VIEWER.name, VIEWER.password, "/\u0000"),
  },
  "next-offsite-redirect": {
    backend: "sqlite",
    request: () => signIn(VIEWER.name, VIEWER.password, "/\t/evil.example"),
  },
  "login-nul-postgres-500": { backend: "postgres", request: () => signIn("a\u0000b", "wrong password") },
};

const PG = await findTestPostgres();

describe("KNOWN_FINDINGS still reproduce (delete an entry once its fix lands)", () => {
  const centrals: Partial<Record<"sqlite" | "postgres", FuzzCentral>> = {};
  beforeAll(async () => {
    centrals.sqlite = await startFuzzCentral({ kind: "sqlite" });
    await seed(centrals.sqlite.store);
    if (PG.skipReason === undefined) {
      centrals.postgres = await startFuzzCentral({ kind: "postgres", url: PG.url });
      await seed(centrals.postgres.store);
    }
  });
  afterAll(async () => {
    await centrals.sqlite?.close();
    await centrals.postgres?.close();
  });

  it("every entry has a probe, every probe an entry", () => {
    expect(Object.keys(PROBES).sort()).toEqual(KNOWN_FINDINGS.map((f) => f.id).sort());
  });

  for (const finding of KNOWN_FINDINGS) {
    it(`${finding.id} (issue 24, point ${finding.issuePoint})`, async (ctx) => {
      const probe = PROBES[finding.id]!;
      if (probe.backend === "postgres" && PG.skipReason !== undefined) ctx.skip(PG.skipReason);
      const c = centrals[probe.backend]!;
      const request = probe.request(c);
      const { answer, violations } = await checkExchange(c, request);
      expect(
        violations.length > 0 && finding.matches(request, answer, violations),
        `KNOWN_FINDINGS "${finding.id}" no longer reproduces (answer ${answer?.status}, violations ${JSON.stringify(violations)}): ` +
          `the fix of point ${finding.issuePoint} has landed; delete the entry from test/fuzz/known-findings.ts and its probe here`,
      ).toBe(true);
    });
  }
});
