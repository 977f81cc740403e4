import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { parseMetricsCsv } from "../../src/protocol/index.js";
import { makeTestCentral, type TestCentral } from "../central/ingest/fixtures.js";
import { fakedClockEnv } from "../helpers/clock.js";

/**
 * The linux-x64 single executable (`npm run build:agent-bin -- --targets
 * linux-x64`), run with an empty environment: no PATH, so no node could be
 * found even if the executable looked for one. It talks to the real central
 * (fastify + SQLite on loopback). The other platforms' executables are
 * checked for structure by test/agent/bin-formats.check.ts (npm run check:agent-bin).
 */
const ROOT = resolve(import.meta.dirname, "../..");
const BUILT = join(ROOT, "dist", "bin", "srvutil-agent-linux-x64");
const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";

/** Every node binary reachable here (PATH entries and process.execPath), resolved. */
const nodeBinaries = [
  ...new Set(
    [process.execPath, ...(process.env.PATH ?? "").split(":").map((d) => join(d, "node"))]
      .filter((p) => existsSync(p))
      .map((p) => realpathSync(p)),
  ),
];
const canHideNode = spawnSync("/usr/bin/unshare", ["-m", "/bin/true"]).status === 0;

let folder: string;
let exe: string;

beforeAll(() => {
  execFileSync("npm", ["run", "--silent", "build:agent-bin", "--", "--targets", "linux-x64"], {
    cwd: ROOT,
    stdio: "pipe",
  });
}, 240_000);

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), "srvutil-bin-"));
  exe = join(folder, "srvutil-agent-linux-x64");
  copyFileSync(BUILT, exe);
  execFileSync("chmod", ["755", exe]);
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

/**
 * Runs a program with exactly `env` and an empty PATH, nothing inherited (`env -i PATH=`):
 * with PATH unset, execvp would still search /usr/bin:/bin.
 */
function run(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(program, args, {
      cwd: folder,
      // fakedClockEnv: nothing unless `npm run test:future` fakes the clock, which the agent must share.
      env: { PATH: "", ...fakedClockEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", fail);
    child.once("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

describe("the linux-x64 executable, with no node reachable", () => {
  it("is a static copy of itself: --version and collect work from an empty folder with an empty environment", async () => {
    // The control: with this environment a plain `node` cannot even be found.
    expect(spawnSync("node", ["-e", "0"], { env: { PATH: "" } }).error).toMatchObject({ code: "ENOENT" });
    const version = await run(exe, ["--version"]);
    expect(version).toMatchObject({ status: 0, stdout: "0.1.0\n", stderr: "" });
    const collect = await run(exe, ["collect", "--agent-dir", join(folder, "agent")], {
      SRVUTIL_SERVER_NAME: "bin-host",
      SRVUTIL_AGENT_CPU_MEASURE_MS: "100",
    });
    expect(collect.stderr).toBe("");
    expect(collect.status).toBe(0);
    const { rows } = parseMetricsCsv(collect.stdout, { now: Date.now() + 60_000 });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).toMatchObject({ server: "bin-host" });
    expect(rows[0]!.memTotalBytes).toBeGreaterThan(0);
    expect(readdirSync(folder)).toEqual(["srvutil-agent-linux-x64"]);
  });

  it("runs in a mount namespace where every node binary on this machine is unreadable", async (ctx) => {
    // Reported as a skip with its reason (and so a CI failure), never silently passed.
    if (!canHideNode) ctx.skip("`unshare -m` is not permitted here (needs root or user namespaces)");
    const hide = nodeBinaries.map((p) => `/bin/mount --bind /dev/null '${p}'`).join(" && ");
    const r = await run("/usr/bin/unshare", [
      "-m",
      "/bin/sh",
      "-c",
      `${hide} && ! /usr/bin/node -e 0 2>/dev/null && exec "$0" "$@"`,
      exe,
      "collect",
      "--agent-dir",
      join(folder, "agent"),
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(parseMetricsCsv(r.stdout, { now: Date.now() + 60_000 }).rows.length).toBeGreaterThan(0);
  });

  it("a bad setting is the same one-line error as the node bundle (exit 78, bad configuration)", async () => {
    const r = await run(exe, ["run", "--once", "--agent-dir", join(folder, "a")], {
      SRVUTIL_AGENT_TOKEN: "x",
    });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/^srvutil-agent: SRVUTIL_CENTRAL_URL is not set.*\n$/);
  });

  describe("against the real central", () => {
    let central: TestCentral;
    let url: string;
    let token: string;
    beforeEach(async () => {
      central = await makeTestCentral();
      await central.app.listen({ port: 0, host: "127.0.0.1" });
      url = `http://127.0.0.1:${(central.app.server.address() as AddressInfo).port}`;
      token = await createAgentToken(central.store, "bin-host");
    });
    afterEach(() => central.cleanup());

    const samples = () =>
      central.store.db.prepare("SELECT server, COUNT(*) AS n FROM samples GROUP BY server").all();

    it("run --once collects, spools and uploads", async () => {
      const agentDir = join(folder, "agent");
      const r = await run(exe, ["run", "--once", "--agent-dir", agentDir], {
        SRVUTIL_CENTRAL_URL: url,
        SRVUTIL_AGENT_TOKEN: token,
        SRVUTIL_SERVER_NAME: "bin-host",
        SRVUTIL_AGENT_CPU_MEASURE_MS: "100",
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^sample .*\.csv: cpu .*uploaded 1 file\(s\), 0 pending, 0 rejected\n$/);
      expect(r.stdout).not.toContain(token);
      expect(samples()).toEqual([{ server: "bin-host", n: expect.any(Number) }]);
      expect(readdirSync(join(agentDir, "metrics")).filter((n) => n.endsWith(".csv"))).toEqual([]);
      expect(readFileSync(join(agentDir, "Logs", "agent.log"), "utf8")).toContain('"event":"upload_ok"');
    });

    it("install --dry-run shows units that run the installed executable, and changes nothing", async () => {
      const bin = join(folder, "bin");
      const units = join(folder, "units");
      const agentDir = join(folder, "agent");
      const r = await run(
        exe,
        ["install", "--dry-run", "--bin-dir", bin, "--target-dir", units, "--agent-dir", agentDir],
        { SRVUTIL_CENTRAL_URL: url, SRVUTIL_AGENT_TOKEN: token, SRVUTIL_SERVER_NAME: "bin-host" },
      );
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("accepts the token for server bin-host");
      expect(r.stdout).toContain(`# would copy ${exe} to ${join(bin, "srvutil-agent")}`);
      expect(r.stdout).toContain(`ExecStart=${join(bin, "srvutil-agent")} run\n`);
      expect(r.stdout).toContain(`Environment=SRVUTIL_AGENT_DIR=${agentDir}\n`);
      expect(r.stdout).toContain("# would run: systemctl enable --now srvutil-agent.service");
      expect(r.stdout).not.toContain(token);
      expect(r.stdout).not.toMatch(/node/);
      expect(readdirSync(folder)).toEqual(["srvutil-agent-linux-x64"]);
    });

    it("install copies the executable and leaves an agent that reports with nothing but the unit's environment; uninstall removes it", async () => {
      const bin = join(folder, "bin");
      const units = join(folder, "units");
      const agentDir = join(folder, "agent");
      const tokenFile = join(folder, "agent.token");
      execFileSync("sh", ["-c", `umask 077; printf '%s\\n' "$1" > "$2"`, "sh", token, tokenFile]);
      const args = ["--bin-dir", bin, "--target-dir", units, "--agent-dir", agentDir, "--no-activate"];
      const r = await run(exe, ["install", "--mode", "timer", ...args], {
        SRVUTIL_CENTRAL_URL: url,
        SRVUTIL_AGENT_TOKEN_FILE: tokenFile,
        SRVUTIL_SERVER_NAME: "bin-host",
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const installed = join(bin, "srvutil-agent");
      expect(statSync(installed).mode & 0o777).toBe(0o755);
      expect(readFileSync(installed).equals(readFileSync(exe))).toBe(true);
      const service = readFileSync(join(units, "srvutil-agent.service"), "utf8");
      expect(service).toContain(`ExecStart=${installed} run --once\n`);
      if (existsSync(SYSTEMD_ANALYZE)) {
        const verify = spawnSync(SYSTEMD_ANALYZE, ["verify", join(units, "srvutil-agent.service")], {
          encoding: "utf8",
        });
        expect(`${verify.stdout}${verify.stderr}`).toBe("");
      }
      // What systemd would run: the installed copy, with the unit's environment only.
      const unitEnv = Object.fromEntries(
        [...service.matchAll(/^Environment=(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
      );
      expect(unitEnv).toEqual({ SRVUTIL_AGENT_DIR: agentDir });
      const once = await run(installed, ["run", "--once"], {
        ...unitEnv,
        SRVUTIL_AGENT_CPU_MEASURE_MS: "50",
      });
      expect(once.stderr).toBe("");
      expect(once.stdout).toMatch(/uploaded 1 file\(s\)/);
      expect(samples()).toEqual([{ server: "bin-host", n: expect.any(Number) }]);

      const un = await run(installed, ["uninstall", ...args]);
      expect(un.status).toBe(0);
      expect(existsSync(installed)).toBe(false);
      expect(readdirSync(units)).toEqual([]);
      expect(existsSync(join(agentDir, "agent.json"))).toBe(true); // the agent dir and its data stay
    });
  });
});
