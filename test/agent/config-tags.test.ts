import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadAgentConfig } from "../../src/agent/config.js";
import { AgentConfigError } from "../../src/agent/errors.js";
import { postMetrics, uploadTarget } from "../../src/agent/uploader.js";
import { formatTagList, parseTagList } from "../../src/protocol/tags.js";

/**
 * The agent's `tags` setting: agent.json's object, SRVUTIL_TAGS replacing
 * it, every bad tag named at once with the other settings' problems; and
 * the X-Srvutil-Tags header an upload carries (to a loopback HTTP server).
 */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "srvutil-agent-tags-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const base = () => ({
  SRVUTIL_AGENT_DIR: dir,
  SRVUTIL_CENTRAL_URL: "https://central.example:8443/",
  SRVUTIL_AGENT_TOKEN: "t0k",
});
const withFile = (json: unknown) => {
  writeFileSync(join(dir, "agent.json"), JSON.stringify(json));
  return base();
};
const problemsOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    return (err as Error).message;
  }
  throw new Error("expected an AgentConfigError");
};

describe("agent tags setting", () => {
  it("has no tags by default", () => {
    expect(loadAgentConfig(base()).tags).toEqual({});
  });

  it("reads agent.json's tags object", () => {
    const c = loadAgentConfig(withFile({ tags: { env: "prod", team: "payments", site: "fra" } }));
    expect(c.tags).toEqual({ env: "prod", team: "payments", site: "fra" });
  });

  it("lets SRVUTIL_TAGS replace the file's set as a whole", () => {
    const env = {
      ...withFile({ tags: { env: "prod", site: "fra" } }),
      SRVUTIL_TAGS: " env=stage , team=search ",
    };
    expect(loadAgentConfig(env).tags).toEqual({ env: "stage", team: "search" });
  });

  it("names every bad tag at once, with the other settings' problems", () => {
    const message = problemsOf(() =>
      loadAgentConfig({
        ...withFile({ tags: { "bad key": "x", team: "pay ments", n: 3, ok: "fine" } }),
        SRVUTIL_AGENT_SAMPLE_SECONDS: "-1",
      }),
    );
    expect(message).toContain("SRVUTIL_AGENT_SAMPLE_SECONDS");
    expect(message).toContain("tag key 'bad key'");
    expect(message).toContain("tag team: value 'pay ments'");
    expect(message).toContain("tags.n must be a string");
    expect(message).not.toContain("tags.ok");
    expect(message).not.toContain("fine");
  });

  it("refuses a malformed SRVUTIL_TAGS, a repeated key, too many tags and a non-object in the file", () => {
    expect(problemsOf(() => loadAgentConfig({ ...base(), SRVUTIL_TAGS: "team" }))).toContain(
      "SRVUTIL_TAGS: 'team' is not key=value",
    );
    expect(problemsOf(() => loadAgentConfig({ ...base(), SRVUTIL_TAGS: "a=1,a=2" }))).toContain(
      "tag a is given twice",
    );
    const many = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(",");
    expect(problemsOf(() => loadAgentConfig({ ...base(), SRVUTIL_TAGS: many }))).toContain("at most 32");
    expect(problemsOf(() => loadAgentConfig({ ...base(), SRVUTIL_TAGS: `k=${"v".repeat(129)}` }))).toContain(
      "1-128 characters",
    );
    expect(problemsOf(() => loadAgentConfig(withFile({ tags: ["env=prod"] })))).toContain(
      "tags must be an object",
    );
  });

  it("round-trips the header form, keys sorted", () => {
    expect(formatTagList({ team: "payments", env: "prod" })).toBe("env=prod,team=payments");
    expect(parseTagList("env=prod,team=payments")).toEqual({
      tags: { env: "prod", team: "payments" },
      problems: [],
    });
    expect(parseTagList("")).toEqual({ tags: {}, problems: [] });
  });
});

describe("the upload's X-Srvutil-Tags header", () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A loopback server answering 201 and keeping each request's tags header (null: none). */
  const listen = async (): Promise<{ url: URL; seen: (string | null)[] }> => {
    const seen: (string | null)[] = [];
    server = http.createServer((req, res) => {
      const h = req.headers["x-srvutil-tags"];
      seen.push(typeof h === "string" ? h : null);
      req.resume();
      req.on("end", () => {
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ upload_id: "u", rows: 1, duplicates: 0 }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const a = server.address() as { port: number };
    return { url: new URL(`http://127.0.0.1:${a.port}/api/v1/metrics`), seen };
  };

  it("carries the config's tags, and no header without tags", async () => {
    const { url, seen } = await listen();
    const tags = loadAgentConfig({ ...base(), SRVUTIL_TAGS: "team=payments,env=prod" }).tags;
    const csv = Buffer.from("timestamp,server\n");
    expect((await postMetrics(uploadTarget(url, "t", null, tags), csv, 5000)).kind).toBe("accepted");
    expect((await postMetrics(uploadTarget(url, "t", null), csv, 5000)).kind).toBe("accepted");
    expect(seen).toEqual(["env=prod,team=payments", null]);
  });
});
