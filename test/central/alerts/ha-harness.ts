/**
 * The parts of the alerts' multi-instance test (./ha.test.ts): `central
 * serve` processes on one PostgreSQL schema that can be SIGKILLed and
 * started again, and a loopback webhook receiver that records every
 * request, idempotency key included.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import type { WebhookPayload } from "../../../src/central/alerts/channels/webhook.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { freePort } from "../../helpers/net.js";

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `node dist/cli/main.js ARGS`: the built CLI, because an instance killed
 * a dozen times must start in seconds, and through tsx a start took 15 to
 * 25 s on a busy machine. A build older than any file under src/ is refused
 * (run `npm run build`): a stale build would test yesterday's code.
 */
export function builtCommand(args: readonly string[]): [string, string[]] {
  const main = path.join(REPO_ROOT, "dist", "cli", "main.js");
  let built: number;
  try {
    built = statSync(main).mtimeMs;
  } catch {
    throw new Error(`${main} is missing: run npm run build before this test`);
  }
  const src = path.join(REPO_ROOT, "src");
  const newer = readdirSync(src, { recursive: true })
    .map((f) => path.join(src, String(f)))
    .find((f) => f.endsWith(".ts") && statSync(f).mtimeMs > built);
  if (newer !== undefined)
    throw new Error(`${newer} is newer than ${main}: run npm run build before this test`);
  return [process.execPath, [main, ...args]];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One slot of the fleet: the process in it changes at every kill. */
export class Slot {
  child: ChildProcess | null = null;
  url = "";
  starts = 0;
  /** Answering /readyz since its last start, and not killed since. */
  ready = false;
  /** How long each start took until /readyz answered (ms). */
  readonly startMs: number[] = [];
  private output = "";

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get pid(): number | null {
    return this.alive ? (this.child?.pid ?? null) : null;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts `central serve` and waits until it answers /readyz. */
  async start(): Promise<void> {
    this.ready = false;
    const began = Date.now();
    const port = await freePort();
    const [cmd, args] = builtCommand(["central", "serve"]);
    const child = spawn(cmd, args, {
      env: {
        ...this.env,
        SRVUTIL_DATA_DIR: path.join(this.dir, this.name),
        SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      },
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.starts++;
    this.output = "";
    child.stdout?.on("data", (d) => {
      this.output += d;
    });
    child.stderr?.on("data", (d) => {
      this.output += d;
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      `${this.name} ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${this.name} exited: ${this.output}`);
        return (await fetch(`${url}/readyz`)).ok ? true : null;
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.output}`);
    });
    this.url = url;
    this.ready = true;
    this.startMs.push(Date.now() - began);
  }

  /** SIGKILL, then waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    this.ready = false;
    if (child === null || !this.alive) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  /** SIGTERM (a clean stop), then waits for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.ready = false;
    if (child === null || !this.alive) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

export interface ReceivedNotice {
  /** The notification's idempotency key (X-Srvutil-Notification-Id). */
  notificationId: string | null;
  /** The notice's own key in the payload. */
  id: string | null;
  server: string;
  rule: string;
  mount: string;
  kind: string;
  startsAt: string;
  at: number;
}

export interface HookReceiver {
  url: string;
  notices: ReceivedNotice[];
  requests: number;
  /** Called with each request's notification id before it is answered (a kill on answer). */
  onRequest: ((notificationId: string | null) => Promise<(() => void) | null>) | null;
  close(): Promise<void>;
}

/** A webhook receiver that answers 204 after `delayMs` (a send window wide enough to be killed in). */
export async function startHookReceiver(delayMs: number): Promise<HookReceiver> {
  const state: HookReceiver = {
    url: "",
    notices: [],
    requests: 0,
    onRequest: null,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      state.requests++;
      const header = req.headers["x-srvutil-notification-id"];
      const notificationId = typeof header === "string" ? header : null;
      const payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as WebhookPayload;
      for (const a of payload.alerts) {
        state.notices.push({
          notificationId,
          id: a.id,
          server: a.server,
          rule: a.rule,
          mount: a.mount,
          kind: a.kind,
          startsAt: a.starts_at,
          at: Date.now(),
        });
      }
      const after = state.onRequest === null ? null : await state.onRequest(notificationId);
      await sleep(delayMs);
      res.writeHead(204).end();
      after?.();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  state.url = `http://127.0.0.1:${port}/hook`;
  state.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
