import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { agentUserAgentHeader } from "../../src/agent/version.js";
import {
  AGENT_OS_MAX_CHARS,
  agentUserAgent,
  compareAgentVersions,
  parseAgentUserAgent,
} from "../../src/protocol/agent-identity.js";

/**
 * The agent's User-Agent (src/protocol/agent-identity.ts): what the agent
 * builds parses back to what it said; anything else an agent-supplied header
 * may hold (huge, control characters, HTML, another program) is unknown.
 */
describe("the agent's User-Agent", () => {
  it("is built from this agent's release, platform, arch and OS, and parses back", () => {
    const header = agentUserAgentHeader();
    expect(header).toMatch(/^srvutil-agent\/\d+\.\d+\.\d+ \([a-z0-9]+; [a-z0-9]+; .+\)$/);
    const parsed = parseAgentUserAgent(header);
    expect(parsed).toMatchObject({ platform: process.platform, arch: process.arch });
    expect(parsed?.os?.length).toBeGreaterThan(0);
  });

  it("reads the 0.1 agents' bare product, and a pre-release", () => {
    expect(parseAgentUserAgent("srvutil-agent/0.1")).toEqual({
      version: "0.1",
      platform: null,
      arch: null,
      os: null,
    });
    expect(parseAgentUserAgent("srvutil-agent/1.2.0-rc.1 (win32; arm64; Windows_NT 10.0.22631)")).toEqual({
      version: "1.2.0-rc.1",
      platform: "win32",
      arch: "arm64",
      os: "Windows_NT 10.0.22631",
    });
  });

  it("leaves out of the OS what the central would refuse, and the comment when nothing is left", () => {
    expect(agentUserAgent("0.2.0", "linux", "x64", "Linux 6.1 (custom); <b>\u0000")).toBe(
      "srvutil-agent/0.2.0 (linux; x64; Linux 6.1 custom b)",
    );
    expect(agentUserAgent("0.2.0", "linux", "x64", "\u0000;;")).toBe("srvutil-agent/0.2.0");
    expect(agentUserAgent("0.2.0", "Linux!", "x64", "Linux 6.1")).toBe("srvutil-agent/0.2.0");
    const long = agentUserAgent("0.2.0", "linux", "x64", `Linux ${"9".repeat(500)}`);
    expect(parseAgentUserAgent(long)?.os).toHaveLength(AGENT_OS_MAX_CHARS);
  });

  it("is unknown for hostile or foreign headers", () => {
    for (const header of [
      undefined,
      ["srvutil-agent/0.2.0", "srvutil-agent/0.2.0"],
      "",
      "curl/8.5.0",
      `srvutil-agent/0.2.0 (linux; x64; Linux ${"a".repeat(10_000)})`,
      "srvutil-agent/0.2.0 (linux; x64; <script>alert(1)</script>)",
      "srvutil-agent/0.2.0 (linux; x64; Linux 6.1\u0000)",
      "srvutil-agent/0.2.0 (linux; x64; Linux 6.1\r\nX-Evil: 1)",
      "srvutil-agent/0.2.0 (linux; x64; Linux 6.1) extra",
      "srvutil-agent/<b>1</b>",
      "srvutil-agent/0.2.0 (LINUX; x64; Linux)",
      " srvutil-agent/0.2.0",
    ]) {
      expect(parseAgentUserAgent(header), JSON.stringify(header)?.slice(0, 80)).toBeNull();
    }
  });

  it("never gives a field with a character outside its whitelist, whatever the header", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: "binary" }), fc.string({ maxLength: 80 }), (tail, os) => {
        for (const header of [tail, `srvutil-agent/0.2.0 (linux; x64; ${os})`, `srvutil-agent/${tail}`]) {
          const p = parseAgentUserAgent(header);
          if (p === null) continue;
          expect(p.version).toMatch(/^[0-9A-Za-z.-]{1,40}$/);
          if (p.os !== null) expect(p.os).toMatch(/^[A-Za-z0-9 ._+~-]{1,64}$/);
          for (const w of [p.platform, p.arch]) if (w !== null) expect(w).toMatch(/^[a-z0-9_]{1,16}$/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("orders releases part by part, a pre-release below its release", () => {
    expect(compareAgentVersions("0.1", "0.1.0")).toBe(0);
    expect(compareAgentVersions("0.1.0", "0.2.0")).toBeLessThan(0);
    expect(compareAgentVersions("0.10.0", "0.9.9")).toBeGreaterThan(0);
    expect(compareAgentVersions("1.0.0-rc.1", "1.0.0")).toBeLessThan(0);
    expect(compareAgentVersions("1.0.0", "1.0.0-rc.1")).toBeGreaterThan(0);
    expect(compareAgentVersions("2.0.0", "10.0.0")).toBeLessThan(0);
  });
});
