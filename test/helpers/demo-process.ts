import { type ChildProcess, spawn } from "node:child_process";

/** A running `srvutil demo`: its process, the dashboard's base URL and the demo user's password. */
export interface DemoProcess {
  child: ChildProcess;
  base: string;
  password: string;
}

/**
 * Starts `srvutil demo` (`command argv`, with `env` as its whole environment)
 * and resolves once it serves, with the URL and password it prints, as a new
 * user reads them. Used by the demo's browser test and by
 * `npm run docs:screenshots`, so both meet the demo the same way.
 */
export async function startDemoProcess(
  command: string,
  argv: readonly string[],
  o: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number },
): Promise<DemoProcess> {
  const child = spawn(command, argv, { cwd: o.cwd, env: o.env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the demo did not start serving:\n${out}`)),
        o.timeoutMs,
      );
      child.stderr?.on("data", (d) => {
        out += d;
      });
      child.stdout?.on("data", (d) => {
        out += d;
        if (/serving http/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the demo exited (${code}):\n${out}`));
      });
    });
  } catch (err) {
    child.kill("SIGTERM");
    throw err;
  }
  const login = /dashboard\s+(http:\/\/\S+)\/\s+sign in as demo \/ (\S+)/.exec(out);
  if (login === null) {
    child.kill("SIGTERM");
    throw new Error(`no dashboard URL and password in the demo's output:\n${out}`);
  }
  return { child, base: login[1]!, password: login[2]! };
}
