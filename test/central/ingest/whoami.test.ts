import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { makeTestCentral, type TestCentral } from "./fixtures.js";

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

describe("GET /api/v1/agent/whoami", () => {
  let c: TestCentral;
  beforeEach(async () => {
    c = await makeTestCentral();
  });
  afterEach(async () => {
    await c.cleanup();
  });

  const whoami = (authorization?: string) =>
    c.app.inject({
      method: "GET",
      url: "/api/v1/agent/whoami",
      headers: authorization === undefined ? {} : { authorization },
    });

  it("names the server of a valid agent token, exactly as it was created (case kept)", async () => {
    const lower = await createAgentToken(c.store, "sgcs-it-04");
    const upper = await createAgentToken(c.store, "SGCS-IT-05");
    const res = await whoami(`Bearer ${lower}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ server: "sgcs-it-04", agent_version_current: pkg.version });
    expect((await whoami(`Bearer ${upper}`)).json()).toEqual({
      server: "SGCS-IT-05",
      agent_version_current: pkg.version,
    });
    // No upload is stored by asking (the agent's identity is: test/central/agent-identity.test.ts).
    expect(c.store.db.prepare("SELECT COUNT(*) AS n FROM uploads").get()).toEqual({ n: 0 });
  });

  it("answers 401 with the API's error shape for a missing, wrong, revoked or viewer token", async () => {
    const token = await createAgentToken(c.store, "web-01");
    const viewer = await createViewerToken(c.store, "ops");
    const wrongSecret = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const cases = [undefined, "Bearer nonsense", `Bearer ${wrongSecret}`, `Bearer ${viewer}`];
    for (const authorization of cases) {
      const res = await whoami(authorization);
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="srvutil"');
      expect(res.json()).toMatchObject({ error: expect.stringContaining("agent token"), line: null });
    }
    await c.store.tokens.revokeAll("agent", "web-01", Date.now());
    expect((await whoami(`Bearer ${token}`)).statusCode).toBe(401);
  });

  it("is in the OpenAPI document with its 200 and 401 answers", async () => {
    const doc = (await c.app.inject("/api/v1/openapi.json")).json();
    const op = doc.paths["/api/v1/agent/whoami"].get;
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "401"]));
    expect(op.responses["200"].content["application/json"].schema.required).toEqual([
      "server",
      "agent_version_current",
    ]);
  });
});
