import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createEnrolmentToken } from "../../../src/central/enrol/tokens.js";
import { httpRequest } from "../../helpers/http.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";

/**
 * `enrol create --tag`: a server enrolled with the token gets its tags as
 * central tags (they win over what its agent declares), over POST
 * /api/v1/enrol on a real central, both backends; a tag the token keeps
 * that is not spelled like a server tag is left out, and logged.
 */
const BACKENDS = await storeBackends();

describe.each(BACKENDS)("enrolment tags: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  let c: RunningCentral | undefined;
  afterEach(async () => {
    await c?.close();
    await t?.cleanup();
    c = undefined;
    t = undefined;
  });

  it("sets the enrolment token's tags as the new server's central tags", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: t.dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
    });
    c = await startCentral(config, { store: t.store });
    // A value the token keeps as given but that is no server tag is left out; the rest is set.
    const { token } = await createEnrolmentToken(t.store, {
      servers: "web-*",
      maxUses: 1,
      expiresInMs: 3600_000,
      allowReenrol: false,
      createdBy: "test",
      tags: { team: "payments", site: "fra", owner: "Jane Doe <jd@example.com>" },
    });
    const a = await httpRequest(`${c.url}/api/v1/enrol`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ server: "web-07" }),
    });
    expect(a.status).toBe(201);
    expect((await t.store.tags.current("web-07")).map((r) => [r.source, r.key, r.value])).toEqual([
      ["central", "site", "fra"],
      ["central", "team", "payments"],
    ]);
    expect(readFileSync(config.paths.automationLog, "utf8")).toMatch(
      /"enrolment tags not set".*"1 tag\(s\) not spelled like server tags left out"/,
    );
  });
});
