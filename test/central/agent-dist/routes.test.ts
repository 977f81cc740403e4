import { randomBytes } from "node:crypto";
import { readdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentCatalog } from "../../../src/central/agent-dist/catalog.js";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import { type DistCentral, sha256, startDistCentral } from "./harness.js";

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request with the path exactly as written (no URL normalisation) and the headers given. */
function raw(
  base: string,
  rawPath: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Raw> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: rawPath, method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("GET /agent/{platform} and /agent/manifest.json over loopback", () => {
  let c: DistCentral;
  let linux: Buffer;
  let windows: Buffer;
  beforeEach(async () => {
    c = await startDistCentral();
    // Several MiB, so the answer is streamed in many chunks.
    linux = randomBytes(5 * 1024 * 1024 + 17);
    windows = randomBytes(300_001);
    writeFileSync(path.join(c.binDir, "srvutil-agent-linux-x64"), linux, { mode: 0o755 });
    writeFileSync(path.join(c.binDir, "srvutil-agent-windows-x64.exe"), windows);
    writeFileSync(path.join(c.bundleDir, "srvutil-agent.mjs"), "console.log('agent');\n");
  });
  afterEach(async () => {
    await c.close();
  });

  it("serves each file with a SHA-256 header that matches the bytes, without sign-in", async () => {
    for (const [platform, bytes, name] of [
      ["linux-x64", linux, "srvutil-agent-linux-x64"],
      ["windows-x64", windows, "srvutil-agent-windows-x64.exe"],
      ["node", Buffer.from("console.log('agent');\n"), "srvutil-agent.mjs"],
    ] as const) {
      const res = await raw(c.url, `/agent/${platform}`);
      expect(res.status, platform).toBe(200);
      expect(res.body.equals(bytes), platform).toBe(true);
      expect(res.headers["x-checksum-sha256"]).toBe(sha256(bytes));
      expect(res.headers.digest).toBe(`sha-256=${Buffer.from(sha256(bytes), "hex").toString("base64")}`);
      expect(res.headers["content-length"]).toBe(String(bytes.length));
      expect(res.headers["content-disposition"]).toBe(`attachment; filename="${name}"`);
    }
  });

  it("answers HEAD with the same headers and no body (a client can check the digest before downloading)", async () => {
    const res = await raw(c.url, "/agent/linux-x64", {}, "HEAD");
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers["x-checksum-sha256"]).toBe(sha256(linux));
    expect(res.headers["content-length"]).toBe(String(linux.length));
    // The handle opened for each is closed again (Linux: this process's open descriptors).
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    for (let i = 0; i < 40; i++) await raw(c.url, "/agent/linux-x64", {}, "HEAD");
    for (let i = 0; i < 10; i++) await raw(c.url, "/agent/windows-x64");
    await new Promise((r) => setTimeout(r, 100));
    expect(open() - before).toBeLessThan(5);
  });

  it("lists the built files in the manifest, one per line, with size and SHA-256, and the missing ones", async () => {
    const res = await raw(c.url, "/agent/manifest.json");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const text = res.body.toString("utf8");
    const m = JSON.parse(text) as {
      version: string;
      agents: { platform: string; file: string; size: number; sha256: string; url: string }[];
      missing: string[];
    };
    expect(m.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.agents).toEqual([
      {
        platform: "linux-x64",
        file: "srvutil-agent-linux-x64",
        size: linux.length,
        sha256: sha256(linux),
        url: "agent/linux-x64",
      },
      {
        platform: "windows-x64",
        file: "srvutil-agent-windows-x64.exe",
        size: windows.length,
        sha256: sha256(windows),
        url: "agent/windows-x64",
      },
      expect.objectContaining({ platform: "node", sha256: sha256("console.log('agent');\n") }),
    ]);
    expect(m.missing).toEqual(["linux-arm64", "darwin-x64", "darwin-arm64"]);
    // install.sh finds a platform's digest with sed: each agent is on a line of its own.
    for (const a of m.agents) {
      const lines = text.split("\n").filter((l) => l.includes(`"platform":"${a.platform}"`));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`"sha256":"${a.sha256}"`);
    }
  });

  it("serves a rebuilt file with its new digest (the cache follows the file, not the name)", async () => {
    const first = await raw(c.url, "/agent/linux-x64");
    expect(first.headers["x-checksum-sha256"]).toBe(sha256(linux));
    const rebuilt = randomBytes(linux.length);
    const file = path.join(c.binDir, "srvutil-agent-linux-x64");
    writeFileSync(`${file}.tmp`, rebuilt);
    renameSync(`${file}.tmp`, file);
    const second = await raw(c.url, "/agent/linux-x64");
    expect(second.body.equals(rebuilt)).toBe(true);
    expect(second.headers["x-checksum-sha256"]).toBe(sha256(rebuilt));
    // Rewritten in place with the same size: ctime moves, so the digest is computed again.
    const inPlace = randomBytes(linux.length);
    writeFileSync(file, inPlace);
    const third = await raw(c.url, "/agent/linux-x64");
    expect(third.headers["x-checksum-sha256"]).toBe(sha256(inPlace));
    expect(third.body.equals(inPlace)).toBe(true);
  });

  it("answers 404 SRVUTIL_E_UNKNOWN_PLATFORM for a name that is not a platform, and names the platforms", async () => {
    for (const p of ["freebsd-x64", "LINUX-X64", "linux-x64.exe", "srvutil-agent-linux-x64", "SHA256SUMS"]) {
      const res = await raw(c.url, `/agent/${p}`);
      expect(res.status, p).toBe(404);
      const body = JSON.parse(res.body.toString("utf8"));
      expect(body.code, p).toBe("SRVUTIL_E_UNKNOWN_PLATFORM");
      expect(body.error).toContain("linux-x64, linux-arm64, darwin-x64, darwin-arm64, windows-x64, node");
    }
  });

  it("answers 404 SRVUTIL_E_AGENT_NOT_BUILT with the build command for a known platform without its file", async () => {
    const res = await raw(c.url, "/agent/darwin-arm64");
    expect(res.status).toBe(404);
    const body = JSON.parse(res.body.toString("utf8"));
    expect(body.code).toBe("SRVUTIL_E_AGENT_NOT_BUILT");
    expect(body.error).toContain("npm run build:agent-bin");
    // Where the files live on the central is not the client's business.
    expect(res.body.toString("utf8")).not.toContain(c.dir);
  });

  it("maps no path from the request: traversal, encoded slashes, NUL and links lead nowhere", async () => {
    const secret = `secret-${randomBytes(8).toString("hex")}`;
    writeFileSync(path.join(c.dir, "outside.txt"), secret);
    // A link where a platform's file would be: not followed.
    symlinkSync(path.join(c.dir, "outside.txt"), path.join(c.binDir, "srvutil-agent-darwin-x64"));
    const paths = [
      "/agent/..%2f..%2fetc%2fpasswd",
      "/agent/..%2F..%2F..%2Foutside.txt",
      "/agent/../../etc/passwd",
      "/agent/%2e%2e/%2e%2e/outside.txt",
      "/agent/linux-x64%00",
      "/agent/linux-x64/..%2f..%2foutside.txt",
      "/agent/bin%2fsrvutil-agent-linux-x64",
      "/agent/darwin-x64",
    ];
    for (const p of paths) {
      const res = await raw(c.url, p);
      expect(res.status, p).toBeGreaterThanOrEqual(400);
      expect(res.status, p).toBeLessThan(500);
      const text = res.body.toString("utf8");
      expect(text, p).not.toContain(secret);
      expect(text, p).not.toContain("root:");
      expect(text, p).not.toContain(c.dir);
    }
    const linked = JSON.parse((await raw(c.url, "/agent/darwin-x64")).body.toString("utf8"));
    expect(linked.code).toBe("SRVUTIL_E_AGENT_NOT_BUILT");
  });

  it("gives nothing more to a signed-in caller and nothing secret to anyone", async () => {
    const agentToken = await createAgentToken(c.store, "web-01");
    const viewerToken = await createViewerToken(c.store, "ops");
    const anonymous = await raw(c.url, "/agent/manifest.json");
    const signedIn = await raw(c.url, "/agent/manifest.json", { authorization: `Bearer ${viewerToken}` });
    expect(signedIn.body.equals(anonymous.body)).toBe(true);
    for (const p of ["/agent/manifest.json", "/install.sh", "/install.ps1"]) {
      const text = (await raw(c.url, p)).body.toString("utf8");
      for (const s of [agentToken, viewerToken, c.dir, "srvu_", "srvv_", "srvr_"])
        expect(text, p).not.toContain(s);
    }
  });

  it("is in the OpenAPI document", async () => {
    const doc = JSON.parse((await raw(c.url, "/api/v1/openapi.json")).body.toString("utf8"));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/agent/manifest.json", "/agent/{platform}", "/install.sh", "/install.ps1"]),
    );
    expect(doc.paths["/agent/{platform}"].get.responses["404"]).toBeDefined();
  });
});

describe("GET /install.sh and /install.ps1: the base URL put in", () => {
  let c: DistCentral | null = null;
  afterEach(async () => {
    await c?.close();
    c = null;
  });

  it("uses SRVUTIL_PUBLIC_URL whatever Host the request names", async () => {
    c = await startDistCentral({ publicUrl: "https://srvutil.example.com/" });
    for (const name of ["install.sh", "install.ps1"]) {
      const res = await raw(c.url, `/${name}`, { host: "evil.example" });
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
      const text = res.body.toString("utf8");
      expect(text).toContain("'https://srvutil.example.com'");
      expect(text).not.toContain("evil.example");
      expect(text).not.toContain("@@CENTRAL_URL@@");
      expect(res.headers["cache-control"]).toBe("no-cache");
    }
  });

  it("uses the request's origin without SRVUTIL_PUBLIC_URL, not cacheable, and refuses a Host that is not host[:port]", async () => {
    c = await startDistCentral();
    const ok = await raw(c.url, "/install.sh");
    expect(ok.body.toString("utf8")).toContain(`CENTRAL_URL='${c.url}'`);
    expect(ok.headers["cache-control"]).toBe("no-store");
    const other = await raw(c.url, "/install.ps1", { host: "central.internal:8443" });
    expect(other.body.toString("utf8")).toContain("[string]$Central = 'http://central.internal:8443'");
    for (const host of ["evil'$(touch /tmp/x)", "a b", "x.example/path", "x.example:8080'", "`whoami`"]) {
      const res = await raw(c.url, "/install.sh", { host });
      expect(res.status, host).toBe(400);
      expect(JSON.parse(res.body.toString("utf8")).code).toBe("SRVUTIL_E_BAD_REQUEST");
    }
  });

  it("believes X-Forwarded-Host/-Proto only from a trusted proxy", async () => {
    c = await startDistCentral({ trustedProxies: ["127.0.0.1/32"] });
    const headers = {
      "x-forwarded-for": "192.0.2.7",
      "x-forwarded-host": "srvutil.example.org",
      "x-forwarded-proto": "https",
    };
    const viaProxy = await raw(c.url, "/install.sh", headers);
    expect(viaProxy.body.toString("utf8")).toContain("CENTRAL_URL='https://srvutil.example.org'");
    await c.close();
    c = await startDistCentral({ trustedProxies: [] });
    const direct = await raw(c.url, "/install.sh", headers);
    expect(direct.body.toString("utf8")).toContain(`CENTRAL_URL='${c.url}'`);
  });
});

describe("AgentCatalog", () => {
  it("computes a file's digest once, not per request", async () => {
    const c = await startDistCentral();
    try {
      writeFileSync(path.join(c.binDir, "srvutil-agent-linux-arm64"), randomBytes(1000));
      const catalog = new AgentCatalog({ binDir: c.binDir, bundleDir: c.bundleDir });
      for (let i = 0; i < 3; i++) {
        const f = await catalog.open("linux-arm64");
        await f!.handle.close();
      }
      await catalog.list();
      expect(catalog.hashed).toBe(1);
      writeFileSync(path.join(c.binDir, "srvutil-agent-linux-arm64"), randomBytes(1000));
      await catalog.list();
      expect(catalog.hashed).toBe(2);
      expect(await catalog.missing()).toEqual([
        "linux-x64",
        "darwin-x64",
        "darwin-arm64",
        "windows-x64",
        "node",
      ]);
    } finally {
      await c.close();
    }
  });
});
