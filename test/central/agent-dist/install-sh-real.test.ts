/**
 * The one-command install end to end on this machine, nothing stood in for:
 * a real central (`startCentral`, SQLite) on loopback serving the plain-Node
 * agent bundle that `npm run build:agent` builds; the real install.sh, fetched
 * with curl from GET /install.sh and run with `sh --platform node` into a
 * fresh directory tree standing in for `/` (SRVUTIL_INSTALL_ROOT, which also
 * keeps the agent directory and the systemd unit in the tree and starts no
 * service: there is no systemd to start it here). The admin creates the
 * enrolment token on the dashboard's Add server page and the command it shows
 * is run; the real agent enrols, installs, uploads once, and the server is
 * then on the central: in GET /api/v1/servers (viewer token) and on the
 * dashboard's fleet page. A second run changes nothing: no second enrolment,
 * no use spent.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentCatalog } from "../../../src/central/agent-dist/catalog.js";
import { createViewerToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { addUser } from "../../../src/central/dashboard/users.js";
import { AGENT_BUNDLE, agentBundle } from "../../helpers/agent-bundle.js";
import { httpRequest } from "../../helpers/http.js";
import { DashboardClient } from "../dashboard/http-client.js";

const SERVER = "e2e-web-01";
const ADMIN = { name: "alice", password: "correct horse battery" };

let work: string;
let c: RunningCentral;
let bundle: Buffer;

beforeAll(async () => {
  // The agent as `central install --build-agents` builds it, from this checkout's sources.
  agentBundle();
  work = mkdtempSync(path.join(os.tmpdir(), "srvutil-install-real-"));
  // The central serves a copy, so another test rebuilding dist/ cannot change it under this one.
  const dist = path.join(work, "dist");
  mkdirSync(path.join(dist, "bin"), { recursive: true });
  copyFileSync(AGENT_BUNDLE, path.join(dist, "srvutil-agent.mjs"));
  bundle = readFileSync(path.join(dist, "srvutil-agent.mjs"));
  c = await startCentral(
    loadCentralConfig({
      SRVUTIL_DATA_DIR: path.join(work, "central"),
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
    }),
    { agentCatalog: new AgentCatalog({ binDir: path.join(dist, "bin"), bundleDir: dist }) },
  );
  await addUser(c.store.users, { ...ADMIN, role: "admin", now: Date.now() });
}, 120_000);
afterAll(async () => {
  await c?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The documented one-liner, `curl -fsSL URL/install.sh | sh -s -- ARGS`, with the tree's root set. */
function pipeInstall(
  args: readonly string[],
  root: string,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", 'curl -fsSL "$0/install.sh" | sh -s -- "$@"', c.url, ...args], {
      env: {
        // `node` for the wrapper: the one running these tests.
        PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        SRVUTIL_INSTALL_ROOT: root,
        SRVUTIL_SERVER_NAME: SERVER,
        TMPDIR: os.tmpdir(),
        HOME: root,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Every file under `dir`, read, to look for a secret that must not be there. */
function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f, "latin1"))
    .join("\n");
}

describe("install.sh with the real agent, against a real central on loopback", () => {
  it("enrols, installs, uploads once, and the server is on the central; a second run changes nothing", async () => {
    // The admin's part: Add server in the dashboard, which names what this central cannot hand out.
    const admin = new DashboardClient(c.url);
    expect((await admin.signIn(ADMIN)).status).toBe(303);
    const page = await admin.get("/admin/add-server");
    expect(page.text).toContain(
      "This central has no agent to hand out for linux-x64, linux-arm64, darwin-x64, darwin-arm64, windows-x64:",
    );
    const created = await admin.post("/admin/add-server", { servers: "e2e-*", uses: "5", expires: "1h" });
    expect(created.status).toBe(201);
    const pasted = /<code id="cmd-unix">([^<]*)<\/code>/.exec(created.text)![1]!;
    const [, enrolment] = /^curl -fsSL (?:\S+)\/install\.sh \| sudo sh -s -- --enrol (srve_\S+)$/.exec(
      pasted,
    )!;
    expect(pasted).toBe(`curl -fsSL ${c.url}/install.sh | sudo sh -s -- --enrol ${enrolment}`);
    const record = (await c.store.enrolments.list())[0]!;
    expect(enrolment!.split("_")[1]).toBe(record.tokenId);
    const root = path.join(work, "root");
    mkdirSync(root);

    // The pasted command, without sudo (it would drop SRVUTIL_INSTALL_ROOT; the tests run as root
    // or as a user the tree belongs to), and --platform node: this central serves only the bundle.
    const first = await pipeInstall(["--enrol", enrolment!, "--platform", "node", "--wait", "60"], root);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("downloading the node agent");
    expect(first.stderr).toContain(`enrolled server ${SERVER} at ${c.url}/: received its own agent token`);
    expect(first.stderr).toContain("first upload at");

    // The executable: the central's bundle, checked, behind its wrapper.
    const lib = path.join(root, "usr", "local", "lib", "srvutil", "srvutil-agent.mjs");
    const exe = path.join(root, "usr", "local", "bin", "srvutil-agent");
    expect(createHash("sha256").update(readFileSync(lib)).digest("hex")).toBe(
      createHash("sha256").update(bundle).digest("hex"),
    );
    expect(readFileSync(exe, "utf8")).toBe(`#!/bin/sh\nexec node "${lib}" "$@"\n`);
    // The agent's settings and its own token, in the tree.
    const agentDir = path.join(root, "var", "lib", "srvutil-agent");
    const tokenPath = path.join(agentDir, "agent.token");
    const agentToken = readFileSync(tokenPath, "utf8").trim();
    expect(agentToken).toMatch(/^srvu_[0-9a-f]{12}_[0-9a-f]{64}$/);
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path.join(agentDir, "agent.json"), "utf8"))).toEqual({
      central_url: `${c.url}/`,
      token_file: tokenPath,
      server_name: SERVER,
    });
    // The service: a systemd unit that runs the installed bundle with only the agent dir in its environment.
    const unit = readFileSync(path.join(root, "etc", "systemd", "system", "srvutil-agent.service"), "utf8");
    expect(unit).toMatch(
      new RegExp(`^ExecStart=.*${lib.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}.* run$`, "m"),
    );
    expect(unit).toContain(`SRVUTIL_AGENT_DIR=${agentDir}`);
    expect(unit).not.toContain(agentToken);
    // The enrolment token is kept nowhere on the "server".
    expect(allText(root)).not.toContain(enrolment!);

    // The service's view: with nothing but its unit's environment, the agent finds its upload.
    const status = execFileSync(exe, ["status"], {
      env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, SRVUTIL_AGENT_DIR: agentDir },
      encoding: "utf8",
    });
    expect(status).toMatch(/^last upload\s+\d{4}-\d\d-\d\d/m);

    // On the central: one use spent, one enrolment, one agent token, samples stored.
    expect((await c.store.enrolments.find(record.tokenId))!.uses).toBe(1);
    expect((await c.store.enrolments.log()).map((e) => e.server)).toEqual([SERVER]);
    expect((await c.store.tokens.list("agent")).filter((t) => t.server === SERVER)).toHaveLength(1);
    const viewer = await createViewerToken(c.store, "ops");
    const servers = await httpRequest(`${c.url}/api/v1/servers`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(servers.status).toBe(200);
    const listed = (JSON.parse(servers.text) as { servers: { name: string; rows: number }[] }).servers;
    expect(listed.map((s) => s.name)).toEqual([SERVER]);
    expect(listed[0]!.rows).toBeGreaterThan(0);
    // And on the dashboard: the fleet page, and the enrolment on the Add server page.
    const fleet = await admin.get("/");
    expect(fleet.status).toBe(200);
    expect(fleet.text).toContain(`<a href="/servers/${SERVER}">${SERVER}</a>`);
    const enrolled = await admin.get("/admin/add-server");
    expect(enrolled.text).toContain(`<tr><th scope="row"><a href="/servers/${SERVER}">${SERVER}</a></th>`);
    expect(enrolled.text).toMatch(new RegExp(`<code>${record.tokenId}</code></td>.*?1 of 5`, "s"));

    // Twice is harmless: the bundle is current, the agent already uploads, nothing is enrolled again.
    const before = statSync(lib);
    const second = await pipeInstall(["--enrol", enrolment!, "--platform", "node", "--wait", "60"], root);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain("is current");
    expect(second.stderr).toContain("not enrolling again");
    expect(statSync(lib).ino).toBe(before.ino);
    expect(readFileSync(tokenPath, "utf8").trim()).toBe(agentToken);
    expect((await c.store.enrolments.find(record.tokenId))!.uses).toBe(1);
    expect(await c.store.enrolments.log()).toHaveLength(1);
    expect((await c.store.tokens.list("agent")).filter((t) => t.server === SERVER)).toHaveLength(1);
    expect(existsSync(path.join(root, "etc", "systemd", "system", "srvutil-agent.service"))).toBe(true);
  }, 180_000);
});
