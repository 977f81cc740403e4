import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "./net.js";
import { requireProgram } from "./programs.js";

export interface RunningNodeExporter {
  /** http://127.0.0.1:PORT/metrics */
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The real Debian prometheus-node-exporter (1.5.0) on a free loopback port,
 * once /metrics answers. Missing, the calling test fails (requireProgram).
 */
export async function startNodeExporter(
  extraArgs: readonly string[] = [],
  /** A loopback port to listen on (default: a free one), e.g. a scrape target's that was down. */
  listenPort?: number,
): Promise<RunningNodeExporter> {
  const program = requireProgram("prometheus-node-exporter", "prometheus-node-exporter");
  const port = listenPort ?? (await freePort());
  const child = spawn(program, [`--web.listen-address=127.0.0.1:${port}`, ...extraArgs], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const url = `http://127.0.0.1:${port}/metrics`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`node_exporter exited (${child.exitCode}): ${stderr.slice(-2000)}`);
    const ok = await fetch(url)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return { url, child, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`node_exporter did not answer on ${url} within 10 s: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
