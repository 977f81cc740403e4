import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadAlerting } from "../../../src/central/alerts/setup.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";

/**
 * Alert routes and silences by group ask Alerting.groupsOf(server), which
 * must answer synchronously: for groups that select by tags it matches the
 * current tags read from store.tags (refresh), central overrides included.
 */
const BACKENDS = await storeBackends();

describe.each(BACKENDS)("alert groups by tags: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("puts a server in the groups its current tags select, after a refresh", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    const groupsFile = path.join(t.dir, "groups.json");
    writeFileSync(
      groupsFile,
      JSON.stringify({
        groups: [
          { name: "payments", select: "team=payments", to: ["p@example.com"] },
          { name: "web", servers: ["web-*"], to: ["w@example.com"] },
        ],
      }),
    );
    const alerting = loadAlerting(
      loadCentralConfig({ SRVUTIL_DATA_DIR: t.dir, SRVUTIL_GROUPS_FILE: groupsFile }),
      {},
    );
    try {
      const now = Date.now();
      await t.store.tags.replace("web-01", "agent", { team: "payments" }, now);
      expect(alerting.groupsOf("web-01")).toEqual(["default", "web"]);
      await alerting.tags.refresh(t.store.tags);
      expect(alerting.groupsOf("web-01")).toEqual(["default", "payments", "web"]);
      // The central's value wins: moved to another team, out of the payments group.
      await t.store.tags.edit("web-01", { set: { team: "search" }, unset: [] }, now + 1);
      await alerting.tags.refresh(t.store.tags);
      expect(alerting.groupsOf("web-01")).toEqual(["default", "web"]);
    } finally {
      alerting.mail.close();
    }
  });
});
