import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/**
 * The one way every browser test gets a Chromium, so `npm ci && npm test` works
 * on a fresh machine with nothing else installed:
 *
 * 1. `SRVUTIL_TEST_CHROMIUM`, when set, names the binary. A set but missing path
 *    fails the test: a configured prerequisite that is not there is an error,
 *    never a silent fallback.
 * 2. Otherwise the system Chromium at `/usr/bin/chromium`, when it starts
 *    (`--version`; a copy without its /etc/chromium.d does not).
 * 3. Otherwise the Chromium that ships inside the `@sparticuz/chromium`
 *    devDependency (the binary is in the npm tarball, brotli-packed; it is
 *    unpacked into the temp folder, nothing is downloaded).
 */
export interface TestChromium {
  executablePath: string;
  args: string[];
  /** Where it came from, for messages: `SRVUTIL_TEST_CHROMIUM`, `system` or `@sparticuz/chromium`. */
  source: string;
}

const SYSTEM_CHROMIUM = "/usr/bin/chromium";

/**
 * Flags for a headless, sandbox-less (tests run as root in CI) Chromium that
 * never reaches the network on its own: without the background-networking
 * flags it keeps dialing Google's hosts, which this machine refuses.
 */
const QUIET_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let resolved: Promise<TestChromium> | undefined;

export function findTestChromium(env: NodeJS.ProcessEnv = process.env): Promise<TestChromium> {
  resolved ??= resolveChromium(env);
  return resolved;
}

async function resolveChromium(env: NodeJS.ProcessEnv): Promise<TestChromium> {
  const configured = env.SRVUTIL_TEST_CHROMIUM;
  if (configured !== undefined && configured !== "") {
    if (!existsSync(configured)) {
      throw new Error(
        `SRVUTIL_TEST_CHROMIUM=${configured}: no such file; unset it to use the bundled Chromium`,
      );
    }
    return { executablePath: configured, args: QUIET_FLAGS, source: "SRVUTIL_TEST_CHROMIUM" };
  }
  if (
    existsSync(SYSTEM_CHROMIUM) &&
    spawnSync(SYSTEM_CHROMIUM, ["--version"], { stdio: "ignore", timeout: 20_000 }).status === 0
  )
    return { executablePath: SYSTEM_CHROMIUM, args: QUIET_FLAGS, source: "system" };
  const { default: bundled } = await import("@sparticuz/chromium");
  // Its own args carry `--headless=shell` and `--single-process`, tuned for
  // Lambda; ours are added after so the quiet-network flags always apply.
  const args = [...new Set([...bundled.args, ...QUIET_FLAGS.filter((f) => f !== "--headless")])];
  return { executablePath: await bundled.executablePath(), args, source: "@sparticuz/chromium" };
}

/** Launches the test Chromium; the caller closes it. */
export async function launchTestBrowser(): Promise<Browser> {
  const c = await findTestChromium();
  return chromium.launch({ executablePath: c.executablePath, args: c.args });
}
