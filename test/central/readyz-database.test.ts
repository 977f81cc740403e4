/**
 * /readyz tells a load balancer to drop an instance whose database is gone:
 * a real `startCentral` on PostgreSQL reached through a TCP relay on
 * loopback; closing the relay (and cutting its connections) is the database
 * becoming unreachable from this instance only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { freePort } from "../helpers/net.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../helpers/postgres.js";

const PG = await findTestPostgres();

/** Forwards 127.0.0.1:port to the database; close() refuses new connections and cuts the open ones. */
class Relay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** `stall`: accept connections but never answer (a host that went dark, not one that refuses). */
  open(mode: "forward" | "stall" = "forward"): Promise<void> {
    const server = net.createServer((client) => {
      if (mode === "stall") {
        this.sockets.add(client);
        client.on("close", () => this.sockets.delete(client));
        client.on("error", () => {});
        return;
      }
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, "127.0.0.1", resolve));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function readyStatus(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(8_000) })).status;
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("/readyz with the database unreachable", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  });

  it("answers 503 while the database cannot be reached and 200 again once it can", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url);
    cleanups.push(drop);
    const pgAddress = new URL(url);
    const relay = new Relay(await freePort(), {
      host: pgAddress.hostname,
      port: Number(pgAddress.port || 5432),
    });
    await relay.open();
    cleanups.push(() => relay.close());
    const relayed = new URL(url);
    relayed.host = `127.0.0.1:${relay.port}`;
    relayed.searchParams.set("options", `-c search_path=${schema}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-readyz-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_DB_URL: relayed.toString(),
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
    });
    const central: RunningCentral = await startCentral(config);
    cleanups.push(() => central.close());

    expect(await readyStatus(central.url)).toBe(200);
    expect((await fetch(`${central.url}/healthz`)).status).toBe(200);

    await relay.close();
    const took = await eventually(
      "/readyz 503",
      async () => (await readyStatus(central.url)) === 503,
      10_000,
    );
    expect(took).toBeLessThan(10_000);
    const body = (await (await fetch(`${central.url}/readyz`)).json()) as { status: string };
    expect(body.status).toBe("database unreachable");
    // The process itself is fine: only readiness fails, so the balancer drops it without restarting it.
    expect((await fetch(`${central.url}/healthz`)).status).toBe(200);

    await relay.open();
    await eventually("/readyz 200 again", async () => (await readyStatus(central.url)) === 200, 10_000);

    // A database that accepts connections and then says nothing must not hang the check.
    await relay.close();
    await relay.open("stall");
    const started = Date.now();
    expect(await readyStatus(central.url)).toBe(503);
    expect(Date.now() - started).toBeLessThan(6_000);

    await relay.close();
    await relay.open();
    await eventually(
      "/readyz 200 after the stall",
      async () => (await readyStatus(central.url)) === 200,
      10_000,
    );
  }, 60_000);
});
