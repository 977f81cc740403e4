/**
 * The seed bridge behind a reverse proxy (issue 24, point 4). It has no token:
 * the client address is its only check besides the enrolled name, so that
 * address must be the client's, never the proxy's. Real central (startCentral,
 * SQLite), real sockets from chosen loopback addresses: 127.0.0.9 plays the
 * proxy, the addresses in X-Forwarded-For the clients behind it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningCentral, startCentral } from "../../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../../src/central/config.js";
import { createAgentToken } from "../../../../src/central/http/app.js";
import { SEED_HEADER } from "../../../../src/central/ingest/seed/parse-seed.js";
import { httpRequest, multipartBody } from "../../../helpers/http.js";

const SERVER = "SEED-PROXY-01";
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function central(env: Record<string, string>): Promise<RunningCentral> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bridge-proxy-"));
  dirs.push(dir);
  const c = await startCentral(
    loadCentralConfig({
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "UTC",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_SEED_COMPAT: "on",
      ...env,
    }),
  );
  await createAgentToken(c.store, SERVER);
  return c;
}

let minute = 0;
/** A one-line seed file of a minute not used before, an hour ago (the real clock). */
function seedFile(): Buffer {
  const at = new Date(Date.now() - 3_600_000 + minute++ * 60_000);
  const stamp = at.toISOString().slice(0, 19).replace("T", " ");
  const disks = `"[{""device"": ""/"", ""mountpoint"": ""/"", ""total_gb"": 10.0, ""used_gb"": 1.0, ""free_gb"": 9.0}]"`;
  return Buffer.from(`${SEED_HEADER}\r\n${stamp},${SERVER},5.0,8.0,1.0,6.0,25.0,${disks}\r\n`);
}

function upload(c: RunningCentral, from: string, headers: Record<string, string> = {}) {
  const { body, contentType } = multipartBody(
    { server_name: SERVER },
    { field: "file", name: "server_metrics.csv", bytes: seedFile() },
  );
  return httpRequest(`${c.url}/upload_metrics`, {
    method: "POST",
    localAddress: from,
    headers: { "content-type": contentType, ...headers },
    body,
  });
}

async function storedRows(c: RunningCentral): Promise<number> {
  let n = 0;
  for await (const _ of c.store.samples({ from: 0, to: Date.now() + 86_400_000, servers: [SERVER] })) n++;
  return n;
}

describe("seed bridge without SRVUTIL_TRUSTED_PROXIES (the README's nginx, not yet configured)", () => {
  let c: RunningCentral;
  beforeAll(async () => {
    c = await central({});
  });
  afterAll(async () => c?.close());

  it("takes a direct loopback client, and refuses the same request once it carries X-Forwarded-For or Forwarded", async () => {
    const direct = await upload(c, "127.0.0.1");
    expect(direct.status).toBe(200);
    expect(await storedRows(c)).toBe(1);
    // Through nginx every client arrives from 127.0.0.1, inside the default allow-list:
    // the header says it was forwarded, so the peer address is a proxy's, not the client's.
    const forwardedRequests: Record<string, string>[] = [
      { "x-forwarded-for": "198.51.100.7" },
      { "x-forwarded-for": "127.0.0.1" },
      { forwarded: "for=198.51.100.7;proto=https" },
      { "x-forwarded-for": "" },
    ];
    for (const headers of forwardedRequests) {
      const refused = await upload(c, "127.0.0.1", headers);
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(refused.text).toBe(
        "Forbidden: this request came through a proxy that is not in SRVUTIL_TRUSTED_PROXIES (it carries X-Forwarded-For or Forwarded) (SRVUTIL_E_UNTRUSTED_PROXY)",
      );
    }
    expect(await storedRows(c)).toBe(1);
  });
});

describe("seed bridge behind a trusted proxy (SRVUTIL_TRUSTED_PROXIES=127.0.0.9)", () => {
  let c: RunningCentral;
  let dataDir: string;
  beforeAll(async () => {
    c = await central({
      SRVUTIL_TRUSTED_PROXIES: "127.0.0.9",
      SRVUTIL_SEED_COMPAT_NETWORKS: "10.20.0.0/16",
      // Three uploads at once per client address, then one every 10 s.
      SRVUTIL_RATE_LIMIT_BURST: "3",
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0.1",
    });
    dataDir = dirs.at(-1)!;
  });
  afterAll(async () => c?.close());

  it("matches the forwarded client against the allow-list, never the proxy's own address", async () => {
    const before = await storedRows(c);
    expect((await upload(c, "127.0.0.9", { "x-forwarded-for": "10.20.1.5" })).status).toBe(200);
    expect((await upload(c, "127.0.0.9", { forwarded: 'for="10.20.1.6:5000";proto=https' })).status).toBe(
      200,
    );
    expect(await storedRows(c)).toBe(before + 2);

    const outside = await upload(c, "127.0.0.9", { "x-forwarded-for": "192.0.2.7" });
    expect(outside.status).toBe(403);
    expect(outside.text).toBe(
      "Forbidden: this address may not upload (SRVUTIL_SEED_COMPAT_NETWORKS) (SRVUTIL_E_FORBIDDEN_NETWORK)",
    );
    // A client writing an allowed address into its own X-Forwarded-For: the proxy appends the
    // real one on the right, and that is the one taken.
    const spoofed = await upload(c, "127.0.0.9", { "x-forwarded-for": "10.20.1.5, 192.0.2.7" });
    expect(spoofed.status).toBe(403);
    // The proxy itself (no forwarding header) is not in the allow-list either.
    expect((await upload(c, "127.0.0.9")).status).toBe(403);
    // A peer that is not the listed proxy cannot forward at all.
    const notTheProxy = await upload(c, "127.0.0.1", { "x-forwarded-for": "10.20.1.5" });
    expect(notTheProxy.status).toBe(403);
    expect(notTheProxy.text).toMatch(/not in SRVUTIL_TRUSTED_PROXIES/);
    expect(await storedRows(c)).toBe(before + 2);

    // automation.log names the client address of each refusal, not the proxy's.
    const refusals = readFileSync(path.join(dataDir, "Logs", "automation.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; reason?: string; address?: string; peer?: string })
      .filter((e) => e.event === "seed bridge refused");
    expect(refusals.map((e) => [e.reason, e.address ?? e.peer])).toEqual([
      ["network", "192.0.2.7"],
      ["network", "192.0.2.7"],
      ["network", "127.0.0.9"],
      ["untrusted_proxy", "127.0.0.1"],
    ]);
  });

  it("limits uploads per client address: 429 with Retry-After, other clients behind the proxy unaffected", async () => {
    const from = (client: string) => upload(c, "127.0.0.9", { "x-forwarded-for": client });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await from("10.20.9.1"));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429]);
    expect(Number(answers[3]!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(answers[3]!.text).toMatch(
      /^Too many uploads from this address; retry after \d+ s \(SRVUTIL_E_RATE_LIMITED\)$/,
    );
    expect((await from("10.20.9.2")).status).toBe(200);
  });
});
