#!/usr/bin/env node
// `npm test`'s pretest step: the Debian programs the tests check srvutil's
// output with (the tests fail, never skip, when one is missing). When run as
// root on Debian it installs what is missing; otherwise it stops at once with
// the one apt-get line to run. With everything present it costs a few stat
// calls and starts no process but one python3 import check.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";

/**
 * [why, Debian package, is it present?, needed when not root?] — keep in step
 * with test/helpers/programs.ts callers.
 */
const NEEDS = [
  ["haproxy in front of two centrals (test/e2e/multi-instance.test.ts)", "haproxy", () => onPath("haproxy")],
  ["python3 for the plist/XML parsers and the seed agent", "python3", () => onPath("python3")],
  ["the seed-shaped Python agent (psutil)", "python3-psutil", () => pythonHas("psutil")],
  ["the seed-shaped Python agent (requests)", "python3-requests", () => pythonHas("requests")],
  ["systemd-analyze verify for the unit files", "systemd", () => onPath("systemd-analyze")],
  ["unzip to read the zipped report attachments", "unzip", () => onPath("unzip")],
  ["openssl for the test TLS certificate", "openssl", () => onPath("openssl")],
  [
    "curl for the one-command install, `curl … | sh` (test/central/agent-dist/install-sh.test.ts)",
    "curl",
    () => onPath("curl"),
  ],
  [
    "pg_dump and pg_restore for the PostgreSQL backup story (test/central/backup-restore.test.ts)",
    "postgresql-client",
    () => onPath("pg_dump") && onPath("pg_restore"),
  ],
  [
    "node_exporter scraped by the central and by Prometheus (test/central/interop/)",
    "prometheus-node-exporter",
    () => onPath("prometheus-node-exporter"),
  ],
  ["Prometheus sending remote_write (test/central/interop/)", "prometheus", () => onPath("prometheus")],
  [
    "Alertmanager (and amtool) receiving the alertmanager channel's alerts (test/central/alerts/alertmanager.test.ts)",
    "prometheus-alertmanager",
    () => onPath("prometheus-alertmanager") && onPath("amtool"),
  ],
  [
    "collectd with write_http (test/central/interop/)",
    "collectd-core libcurl3-gnutls libyajl2",
    () =>
      existsSync("/usr/sbin/collectd") &&
      existsSync("/usr/lib/collectd/write_http.so") &&
      sharedLibrary("libcurl-gnutls.so.4") &&
      sharedLibrary("libyajl.so.2"),
  ],
  [
    "DejaVu fonts for the chart PNGs",
    "fonts-dejavu-core",
    () => existsSync("/usr/share/fonts/truetype/dejavu"),
  ],
  // The browser tests take /usr/bin/chromium when it starts, else the one in the
  // @sparticuz/chromium devDependency (test/helpers/browser.ts). As root the system
  // one is installed when missing or broken (a copy without its /etc/chromium.d
  // does not start); otherwise the tests fall back to the bundled one.
  [
    "Chromium for the browser tests (else @sparticuz/chromium)",
    "chromium",
    () => Boolean(process.env.SRVUTIL_TEST_CHROMIUM) || chromiumStarts(),
    false,
  ],
];

/** collectd's write_http plugin links libcurl-gnutls and yajl, which collectd-core does not depend on. */
function sharedLibrary(name) {
  return ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/x86_64-linux-gnu"].some((d) =>
    existsSync(path.join(d, name)),
  );
}

function chromiumStarts() {
  if (!existsSync("/usr/bin/chromium")) return false;
  const r = spawnSync("/usr/bin/chromium", ["--version"], { stdio: "ignore", timeout: 20_000 });
  return r.status === 0;
}

function onPath(command) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this entry
    }
  }
  return false;
}

// The seed bridge test runs Debian's /usr/bin/python3 (not a pyenv one), so that is the one asked.
const pythonModules = new Map();
function pythonHas(module) {
  if (!pythonModules.has(module)) {
    const r = spawnSync("/usr/bin/python3", ["-c", `import ${module}`], { stdio: "ignore", timeout: 20_000 });
    pythonModules.set(module, r.status === 0);
  }
  return pythonModules.get(module);
}

function missing() {
  pythonModules.clear();
  return NEEDS.filter(([, , present]) => !present());
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const mayInstall = process.env.SRVUTIL_TEST_NO_PROVISION !== "1" && isRoot && onPath("apt-get");
// Without the right to install, only what the tests cannot do without stops the run.
const before = missing().filter(([, , , neededWhenNotRoot]) => mayInstall || neededWhenNotRoot !== false);
if (before.length === 0) process.exit(0);

const packages = [...new Set(before.flatMap(([, pkg]) => pkg.split(" ")))];
const line = `apt-get install -y ${packages.join(" ")}`;
for (const [why, pkg] of before) console.error(`pretest: missing ${pkg}: ${why}`);

if (!mayInstall) {
  console.error(`pretest: the tests need these Debian packages. Install them with:\n\n  sudo ${line}\n`);
  process.exit(1);
}

console.error(`pretest: installing ${packages.join(" ")} (apt-get, as root)`);
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
for (const args of [
  ["update", "-qq"],
  ["install", "-y", "-qq", "--no-install-recommends", ...packages],
]) {
  const r = spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env });
  if (r.status !== 0) {
    console.error(`pretest: apt-get ${args[0]} failed (exit ${r.status ?? r.signal}); run: ${line}`);
    process.exit(1);
  }
}
const after = missing();
if (after.length > 0) {
  console.error(`pretest: still missing after apt-get: ${after.map(([, pkg]) => pkg).join(" ")}`);
  process.exit(1);
}
console.error("pretest: done");
