/**
 * The auto-update decision per agent, end to end over loopback: a real
 * central (startCentral on a SQLite file, a groups file) and the agent's own
 * self-update check (checkForUpdate). A server in a group that is on gets
 * auto_update on, one outside it off, each manifest signed with the server's
 * name; the anonymous manifest says what holds for every server; and a
 * manifest fetched for one server, replayed to another, is refused by that
 * agent's verifier.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentLog } from "../../../src/agent/log.js";
import { checkForUpdate, type SelfUpdateContext } from "../../../src/agent/update/apply.js";
import { pinKey } from "../../../src/agent/update/state.js";
import { AgentCatalog } from "../../../src/central/agent-dist/catalog.js";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { verifyManifestSignature } from "../../../src/protocol/agent-manifest.js";
import { configFor } from "../../agent/helpers/agent-env.js";
import { httpRequest } from "../../helpers/http.js";

let work: string;
let store: SqliteStore;
let central: RunningCentral;
const tokens: Record<string, string> = {};

interface Manifest {
  version: string;
  auto_update: boolean;
  server: string | null;
  agents: { platform: string; size: number; sha256: string }[];
  public_key: string;
  signature: string;
}

const manifest = async (token?: string) => {
  const r = await httpRequest(`${central.url}/agent/manifest.json`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: r.status, headers: r.headers, body: r.text, json: JSON.parse(r.text) as Manifest };
};

const verifies = (m: Manifest) =>
  verifyManifestSignature(
    { version: m.version, autoUpdate: m.auto_update, server: m.server, agents: m.agents },
    m.signature,
    m.public_key,
  );

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "srvutil-au-manifest-"));
  const dist = join(work, "dist");
  const groupsFile = join(work, "groups.json");
  writeFileSync(
    groupsFile,
    JSON.stringify({
      groups: [
        { name: "web", servers: ["web-*"], to: ["web@example.com"] },
        { name: "edge", servers: ["web-9*"], to: ["edge@example.com"] },
      ],
    }),
  );
  mkdirSync(join(dist, "bin"), { recursive: true });
  writeFileSync(join(dist, "srvutil-agent.mjs"), "console.log('agent');\n");
  store = new SqliteStore(join(work, "central", "srvutil.db"));
  await store.init();
  central = await startCentral(
    loadCentralConfig({
      SRVUTIL_DATA_DIR: join(work, "central"),
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_GROUPS_FILE: groupsFile,
      SRVUTIL_REPORT_TO: "ops@example.com",
    }),
    { store, agentCatalog: new AgentCatalog({ binDir: join(dist, "bin"), bundleDir: dist }) },
  );
  for (const s of ["web-01", "web-90", "db-01"]) tokens[s] = await createAgentToken(store, s);
  // The fleet stays at its default (SRVUTIL_AGENT_AUTO_UPDATE unset: off); the group web opts in.
  await store.agentUpdates.set({ group: "web", enabled: true, changedBy: "alice", changedAt: Date.now() });
});
afterAll(async () => {
  await central?.close();
  await store?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("GET /agent/manifest.json per agent", () => {
  it("answers on for a server of a group that is on, off for one outside, each bound to its server and signed", async () => {
    const web = await manifest(tokens["web-01"]);
    expect(web.status).toBe(200);
    expect(web.json).toMatchObject({ auto_update: true, server: "web-01" });
    expect(verifies(web.json)).toBe(true);
    expect(web.headers["cache-control"]).toBe("private, no-store");
    const db = await manifest(tokens["db-01"]);
    expect(db.json).toMatchObject({ auto_update: false, server: "db-01" });
    expect(verifies(db.json)).toBe(true);
    // The signature covers the server: the same manifest under another name does not verify.
    expect(verifies({ ...web.json, server: "db-01" })).toBe(false);
    expect(verifies({ ...web.json, server: null })).toBe(false);
    // Without a token (install.sh, agents from before the binding): unbound, on only if every server is.
    const anonymous = await manifest();
    expect(anonymous.json).toMatchObject({ auto_update: false, server: null });
    expect(verifies(anonymous.json)).toBe(true);
  });

  it("lets off win between groups that disagree, and the fleet decide outside them", async () => {
    await store.agentUpdates.set({ group: "edge", enabled: false, changedBy: "bob", changedAt: Date.now() });
    expect((await manifest(tokens["web-90"])).json.auto_update).toBe(false); // web on, edge off
    expect((await manifest(tokens["web-01"])).json.auto_update).toBe(true); // web only
    await store.agentUpdates.set({ group: null, enabled: true, changedBy: "bob", changedAt: Date.now() });
    expect((await manifest(tokens["db-01"])).json.auto_update).toBe(true); // no group: the fleet
    // A group is off: the anonymous manifest may not say on, or replaying it would beat that group.
    expect((await manifest()).json.auto_update).toBe(false);
    await store.agentUpdates.set({ group: "edge", enabled: null, changedBy: "bob", changedAt: Date.now() });
    expect((await manifest()).json.auto_update).toBe(true);
    expect((await manifest(tokens["web-90"])).json.auto_update).toBe(true);
    // Back as the first test found it.
    await store.agentUpdates.set({ group: null, enabled: null, changedBy: "bob", changedAt: Date.now() });
  });

  it("refuses a revoked agent token with 401, and answers a viewer's Authorization like anyone's", async () => {
    const gone = await createAgentToken(store, "gone-01");
    await store.tokens.revokeAll("agent", "gone-01", Date.now());
    const r = await manifest(gone);
    expect(r.status).toBe(401);
    expect(r.body).toContain("SRVUTIL_E_UNAUTHORIZED");
  });
});

describe("the agent's verifier", () => {
  const ctx: SelfUpdateContext = { target: "/nonexistent/srvutil-agent.mjs", platform: "node", runner: [] };
  let agentDir: string;
  let log: AgentLog;
  beforeAll(async () => {
    agentDir = mkdtempSync(join(work, "agent-"));
    log = new AgentLog(join(agentDir, "logs"), { echoToStderr: false });
    await pinKey(agentDir, (await manifest()).json.public_key);
  });

  it("takes its own server's manifest from the central", async () => {
    const web = await checkForUpdate(configFor(agentDir, central.url, tokens["web-01"]!, "web-01"), ctx, log);
    // On, and the central ships this very version: nothing to do, and nothing refused.
    expect(web.kind).toBe("current");
    const db = await checkForUpdate(configFor(agentDir, central.url, tokens["db-01"]!, "db-01"), ctx, log);
    expect(db.kind).toBe("off");
  });

  it("refuses a manifest signed for another server, replayed to it", async () => {
    const captured = (await manifest(tokens["web-01"])).body;
    const replay = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(captured);
    });
    await new Promise<void>((resolve) => replay.listen(0, "127.0.0.1", resolve));
    try {
      const addr = replay.address();
      const url = `http://127.0.0.1:${typeof addr === "object" && addr !== null ? addr.port : 0}`;
      const out = await checkForUpdate(configFor(agentDir, url, tokens["db-01"]!, "db-01"), ctx, log);
      expect(out).toMatchObject({ kind: "refused" });
      expect(out.kind === "refused" ? out.why : "").toContain("signed for server 'web-01'");
      // The same bytes with the name changed to the victim's do not verify.
      const forged = captured.replace('"server":"web-01"', '"server":"db-01"');
      expect(forged).not.toBe(captured);
      const server2 = http.createServer((_req, res) => res.writeHead(200).end(forged));
      await new Promise<void>((resolve) => server2.listen(0, "127.0.0.1", resolve));
      const a2 = server2.address();
      const out2 = await checkForUpdate(
        configFor(
          agentDir,
          `http://127.0.0.1:${typeof a2 === "object" && a2 !== null ? a2.port : 0}`,
          tokens["db-01"]!,
          "db-01",
        ),
        ctx,
        log,
      );
      server2.close();
      expect(out2).toMatchObject({ kind: "refused" });
      expect(out2.kind === "refused" ? out2.why : "").toContain("signature does not verify");
    } finally {
      replay.close();
    }
  });
});
