/**
 * install.sh run for real with `sh` against a real central on this machine:
 * fetched with curl from GET /install.sh, downloading and checking the agent
 * over HTTP, writing into a fresh directory tree that stands in for `/`
 * (SRVUTIL_INSTALL_ROOT). The one stand-in is the agent executable the
 * central serves: a small sh program that records how it is called and
 * answers `status` as the agent does, so these tests see exactly what the
 * script asks of the agent. The same script with the real agent, enrolling
 * and uploading: ./install-sh-real.test.ts.
 */
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DistCentral, sha256, startDistCentral } from "./harness.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `curl -fsSL <from>/install.sh | sh -s -- ARGS`, as the documented one-liner, with the tree root set. */
function pipeInstall(from: string, args: readonly string[], root: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", 'curl -fsSL "$0/install.sh" | sh -s -- "$@"', from, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SRVUTIL_INSTALL_ROOT: root, TMPDIR: os.tmpdir() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The stand-in agent: records "SRVUTIL_CENTRAL_URL|args" per call; `run --once` "uploads", `status` shows it. */
function stubAgent(dir: string): string {
  const record = path.join(dir, "calls.log");
  const uploaded = path.join(dir, "uploaded");
  return [
    "#!/bin/sh",
    `printf '%s|%s\\n' "$SRVUTIL_CENTRAL_URL" "$*" >> '${record}'`,
    'case "$1" in',
    `  status) if [ -f '${uploaded}' ]; then echo "last upload     $(cat '${uploaded}')"; else echo 'last upload     -'; fi ;;`,
    `  run) date -u +%Y-%m-%dT%H:%M:%SZ > '${uploaded}' ;;`,
    "esac",
    "",
  ].join("\n");
}

function calls(dir: string): string[] {
  const file = path.join(dir, "calls.log");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}

describe("install.sh, run with sh against a central on this machine", () => {
  let c: DistCentral;
  let work: string;
  let stub: string;
  beforeEach(async () => {
    c = await startDistCentral();
    work = mkdtempSync(path.join(os.tmpdir(), "srvutil-install-sh-"));
    stub = stubAgent(work);
    for (const p of ["linux-x64", "linux-arm64"]) {
      writeFileSync(path.join(c.binDir, `srvutil-agent-${p}`), stub, { mode: 0o755 });
    }
  });
  afterEach(async () => {
    await c.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("installs the checked executable, enrols with the token and the central's URL, and sees the first upload; a second run changes nothing", async () => {
    const root = path.join(work, "root");
    mkdirSync(root);
    const first = await pipeInstall(c.url, ["--enrol", "srve_test-token-1", "--wait", "20"], root);
    expect(first.stderr).toContain("first upload at");
    expect(first.code).toBe(0);
    const binDir = path.join(root, "usr", "local", "bin");
    const exe = path.join(binDir, "srvutil-agent");
    expect(sha256(readFileSync(exe))).toBe(sha256(stub));
    expect(statSync(exe).mode & 0o777).toBe(0o755);
    expect(readdirSync(binDir)).toEqual(["srvutil-agent"]);
    // The download's digest, kept for the next run (on macOS the ad-hoc signature changes the bytes).
    expect(
      readFileSync(path.join(root, "usr", "local", "lib", "srvutil", "srvutil-agent.sha256"), "utf8"),
    ).toBe(`${sha256(stub)}\n`);
    expect(calls(work)).toEqual([
      `${c.url}|status`,
      `${c.url}|install --enrol srve_test-token-1 --bin-dir ${binDir} --target-dir ${path.join(root, "etc", "systemd", "system")} --no-activate`,
      `${c.url}|run --once`,
      `${c.url}|status`,
    ]);

    const before = statSync(exe);
    const second = await pipeInstall(c.url, ["--enrol", "srve_test-token-1", "--wait", "20"], root);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("is current");
    expect(second.stderr).toContain("not enrolling again");
    // The same file (not rewritten) and no second enrolment.
    expect(statSync(exe).ino).toBe(before.ino);
    expect(statSync(exe).mtimeMs).toBe(before.mtimeMs);
    expect(calls(work).filter((l) => l.includes("install"))).toHaveLength(1);
    expect(readdirSync(binDir)).toEqual(["srvutil-agent"]);
  });

  it("refuses an executable whose bytes are not the manifest's (changed on the way) and installs nothing", async () => {
    // A man in the middle on loopback: passes everything on, but flips one byte of the executable.
    const proxy = http.createServer((req, res) => {
      http.get(`${c.url}${req.url}`, (up) => {
        const chunks: Buffer[] = [];
        up.on("data", (d: Buffer) => chunks.push(d));
        up.on("end", () => {
          const body = Buffer.concat(chunks);
          if (req.url?.startsWith("/agent/linux")) body[20] = body[20]! ^ 0x01;
          res.writeHead(up.statusCode ?? 502, { "content-type": up.headers["content-type"] ?? "text/plain" });
          res.end(body);
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const port = (proxy.address() as { port: number }).port;
    try {
      const root = path.join(work, "root");
      mkdirSync(root);
      // The proxy asks the central with the central's own Host, so the script names the central:
      // --central sends the downloads through the proxy.
      const via = `http://127.0.0.1:${port}`;
      const run = await pipeInstall(via, ["--central", via, "--enrol", "srve_x", "--wait", "0"], root);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("SHA-256 mismatch");
      expect(run.stderr).toContain(sha256(stub));
      expect(existsSync(path.join(root, "usr", "local", "bin", "srvutil-agent"))).toBe(false);
      expect(readdirSync(path.join(root, "usr", "local", "bin"))).toEqual([]);
      expect(calls(work)).toEqual([]);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it("--platform node installs the plain-Node bundle with a wrapper that runs it with node", async () => {
    // The stand-in bundle: the same recorder, as a Node program.
    const record = path.join(work, "calls.log");
    const bundle = [
      'import { appendFileSync } from "node:fs";',
      `appendFileSync(${JSON.stringify(record)}, \`\${process.env.SRVUTIL_CENTRAL_URL}|\${process.argv.slice(2).join(" ")}\\n\`);`,
      'if (process.argv[2] === "status") console.log("last upload     -");',
      "",
    ].join("\n");
    writeFileSync(path.join(c.bundleDir, "srvutil-agent.mjs"), bundle);
    const root = path.join(work, "root");
    mkdirSync(root);
    const run = await pipeInstall(c.url, ["--platform", "node", "--enrol", "srve_n", "--wait", "0"], root);
    expect(run.stderr).toContain("not waiting");
    expect(run.code).toBe(0);
    const lib = path.join(root, "usr", "local", "lib", "srvutil", "srvutil-agent.mjs");
    expect(readFileSync(lib, "utf8")).toBe(bundle);
    expect(readFileSync(path.join(root, "usr", "local", "bin", "srvutil-agent"), "utf8")).toBe(
      `#!/bin/sh\nexec node "${lib}" "$@"\n`,
    );
    expect(calls(work)).toEqual([
      `${c.url}|status`,
      `${c.url}|install --enrol srve_n --bin-dir ${path.join(root, "usr", "local", "bin")} --target-dir ${path.join(root, "etc", "systemd", "system")} --no-activate`,
    ]);
  });

  it("names the build command when the central has no executable for this platform", async () => {
    for (const p of ["linux-x64", "linux-arm64"]) rmSync(path.join(c.binDir, `srvutil-agent-${p}`));
    const root = path.join(work, "root");
    mkdirSync(root);
    const run = await pipeInstall(c.url, ["--enrol", "srve_x"], root);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("npm run build:agent-bin");
    expect(calls(work)).toEqual([]);
  });
});

describe("install.sh and plain http:// to a host that is not loopback", () => {
  /** This machine's address on a real interface, so the central is reached over it and not over lo. */
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;

  it("refuses it before downloading anything, and goes ahead with --insecure", async () => {
    expect(external, "this test needs an IPv4 address on a non-loopback interface").toBeDefined();
    const c = await startDistCentral({ host: external! });
    const work = mkdtempSync(path.join(os.tmpdir(), "srvutil-install-sh-"));
    try {
      const stub = stubAgent(work);
      for (const p of ["linux-x64", "linux-arm64"]) {
        writeFileSync(path.join(c.binDir, `srvutil-agent-${p}`), stub, { mode: 0o755 });
      }
      const root = path.join(work, "root");
      mkdirSync(root);
      const refused = await pipeInstall(c.url, ["--enrol", "srve_x", "--wait", "0"], root);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`refusing plain http:// to ${external}`);
      expect(readdirSync(root)).toEqual([]);
      // Neither the manifest nor the executable was asked for: the catalog never hashed a file.
      expect(c.catalog.hashed).toBe(0);

      const forced = await pipeInstall(c.url, ["--enrol", "srve_x", "--wait", "0", "--insecure"], root);
      expect(forced.code).toBe(0);
      expect(forced.stderr).toContain("warning: plain http://");
      expect(sha256(readFileSync(path.join(root, "usr", "local", "bin", "srvutil-agent")))).toBe(
        sha256(stub),
      );
      expect(calls(work)).toContain(
        `${c.url}|install --enrol srve_x --bin-dir ${path.join(root, "usr", "local", "bin")} --target-dir ${path.join(root, "etc", "systemd", "system")} --no-activate`,
      );
    } finally {
      await c.close();
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("refuses a URL that is neither https:// nor http://", async () => {
    const c = await startDistCentral();
    const work = mkdtempSync(path.join(os.tmpdir(), "srvutil-install-sh-"));
    try {
      const run = await new Promise<Run>((resolve) => {
        const child = spawn(
          "sh",
          ["-c", 'curl -fsSL "$0/install.sh" | sh -s -- --central ftp://x.example --enrol t', c.url],
          {
            env: { PATH: process.env.PATH ?? "", SRVUTIL_INSTALL_ROOT: work },
          },
        );
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code, stdout: "", stderr }));
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("must start with https://");
    } finally {
      await c.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
