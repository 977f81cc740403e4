/**
 * `agent install --enrol TOKEN` end to end: a real central (startCentral on a
 * SQLite file) on loopback, the agent's directory and unit directory in a
 * temp tree standing in for `/`, activation off (no systemctl here). The
 * agent trades the enrolment token for its own agent token, saves it as
 * install saves any token, and the service's settings then upload.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentInstallCommand, agentRunCommand } from "../../src/agent/commands.js";
import { loadAgentConfig } from "../../src/agent/config.js";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { createEnrolmentToken } from "../../src/central/enrol/tokens.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";

let work: string;
let store: SqliteStore;
let c: RunningCentral;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "srvutil-install-enrol-"));
  store = new SqliteStore(join(work, "central", "srvutil.db"));
  await store.init();
  c = await startCentral(
    loadCentralConfig({
      SRVUTIL_DATA_DIR: join(work, "central"),
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
    }),
    { store },
  );
});
afterAll(async () => {
  await c?.close();
  await store?.close();
  rmSync(work, { recursive: true, force: true });
});

const enrolmentToken = async (servers: string, maxUses = 1) =>
  (
    await createEnrolmentToken(store, {
      servers,
      maxUses,
      expiresInMs: 3600_000,
      allowReenrol: false,
      tags: {},
      createdBy: "test",
    })
  ).token;

async function install(root: string, server: string, enrol: string, over: { dryRun?: boolean } = {}) {
  const lines: string[] = [];
  await agentInstallCommand({
    command: [process.execPath, "/opt/srvutil/srvutil-agent.mjs"],
    targetDir: join(root, "etc", "systemd", "system"),
    noActivate: true,
    platform: "linux",
    env: {
      SRVUTIL_CENTRAL_URL: c.url,
      SRVUTIL_SERVER_NAME: server,
      SRVUTIL_AGENT_DIR: join(root, "var", "lib", "srvutil-agent"),
    },
    enrol,
    print: (l) => lines.push(l),
    ...over,
  });
  return lines.join("\n");
}

/** Every file under `dir`, read (to look for secrets that must not be there). */
function allText(dir: string): string {
  if (!existsSync(dir)) return "";
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
}

describe("agent install --enrol", () => {
  it("enrols, stores its own agent token like install does (0600 file, not in agent.json or the unit), and the first upload arrives", async () => {
    const root = join(work, "root-web-01");
    const enrol = await enrolmentToken("web-*");
    const out = await install(root, "web-01", enrol);
    expect(out).toContain(`enrolled server web-01 at ${c.url}/: received its own agent token`);
    expect(out).toContain(`central ${c.url}/ accepts the token for server web-01`);

    const agentDir = join(root, "var", "lib", "srvutil-agent");
    const tokenPath = join(agentDir, "agent.token");
    const agentToken = readFileSync(tokenPath, "utf8").trim();
    expect(agentToken).toMatch(/^srvu_[0-9a-f]{12}_[0-9a-f]{64}$/);
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(agentDir, "agent.json")).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(agentDir, "agent.json"), "utf8"))).toEqual({
      central_url: `${c.url}/`,
      token_file: tokenPath,
      server_name: "web-01",
    });
    const unit = readFileSync(join(root, "etc", "systemd", "system", "srvutil-agent.service"), "utf8");
    expect(unit).not.toContain(agentToken);
    // The central's manifest key is pinned beside the token, with the same protection.
    const manifest = (await (await fetch(`${c.url}/agent/manifest.json`)).json()) as { public_key: string };
    const pinPath = join(agentDir, "agent-signing.pub");
    expect(out).toContain("self-update key: pinned");
    expect(readFileSync(pinPath, "utf8").trim()).toBe(manifest.public_key);
    expect(manifest.public_key).toMatch(/^MCowBQYDK2VwAyEA/);
    expect(statSync(pinPath).mode & 0o777).toBe(0o600);
    // The enrolment token is spent and kept nowhere on the server; the output never shows a secret.
    expect(allText(root)).not.toContain(enrol);
    expect(out).not.toContain(agentToken);
    expect(out).not.toContain(enrol);

    // The service, started with only the agent dir, uploads as web-01 with the received token.
    const serviceEnv = { SRVUTIL_AGENT_DIR: agentDir, SRVUTIL_AGENT_CPU_MEASURE_MS: "50" };
    expect(loadAgentConfig(serviceEnv).token).toBe(agentToken);
    const printed: string[] = [];
    await agentRunCommand({ once: true, env: serviceEnv, print: (l) => printed.push(l) });
    expect(printed.join("\n")).toMatch(/uploaded 1 file\(s\), 0 pending, 0 rejected/);
    expect(store.db.prepare("SELECT DISTINCT server FROM samples").all()).toEqual([{ server: "web-01" }]);

    // Twice is harmless: the stored token wins and the (now used-up) enrolment token is not presented.
    const again = await install(root, "web-01", enrol);
    expect(again).toContain(`this server has an agent token already (${tokenPath}): enrolment skipped`);
    expect(again).toContain("accepts the token for server web-01");
    expect(readFileSync(tokenPath, "utf8").trim()).toBe(agentToken);
    expect((await store.tokens.list("agent")).filter((t) => t.server === "web-01")).toHaveLength(1);
    expect((await store.enrolments.log()).filter((e) => e.server === "web-01")).toHaveLength(1);
  });

  it("a refusal (name outside the glob, name taken, used up) stops install with the central's reason, and writes nothing", async () => {
    const enrol = await enrolmentToken("web-*", 5);
    await createAgentToken(store, "web-taken");
    const cases: [string, RegExp][] = [
      [
        "db-01",
        /refused to enrol server 'db-01' \(HTTP 403: enrolment token [0-9a-f]{12} enrols servers 'web-\*' only, not 'db-01'\)/,
      ],
      ["web-taken", /refused to enrol server 'web-taken' \(HTTP 409: server 'web-taken' is enrolled already/],
    ];
    for (const [server, message] of cases) {
      const root = join(work, `root-${server}`);
      const attempt = install(root, server, enrol);
      await expect(attempt).rejects.toThrow(message);
      await expect(attempt).rejects.toHaveProperty("name", "AgentConfigError");
      expect(existsSync(root)).toBe(false);
    }
    const used = await enrolmentToken("web-*", 1);
    await install(join(work, "root-web-02"), "web-02", used);
    await expect(install(join(work, "root-web-03"), "web-03", used)).rejects.toThrow(
      /HTTP 403: enrolment token [0-9a-f]{12} has no use left/,
    );
    expect(existsSync(join(work, "root-web-03"))).toBe(false);
  });

  it("--dry-run spends no use; an agent token given to --enrol is refused before anything is sent", async () => {
    const enrol = await enrolmentToken("web-*");
    const out = await install(join(work, "root-dry"), "web-09", enrol, { dryRun: true });
    expect(out).toContain("# would enrol server web-09");
    const id = enrol.split("_")[1]!;
    expect((await store.enrolments.find(id))!.uses).toBe(0);
    const agentToken = await createAgentToken(store, "web-10");
    await expect(install(join(work, "root-web-10"), "web-10", agentToken)).rejects.toThrow(
      /--enrol takes an enrolment token \(srve_…\), and this is an agent token/,
    );
    expect(existsSync(join(work, "root-web-10"))).toBe(false);
  });
});
