/**
 * install.ps1 where no PowerShell runs (Debian has no `powershell` package):
 * a tokenizer-level check of the script as the central serves it. What was
 * and was not run on Windows is in docs/platforms.md.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { type DistCentral, startDistCentral } from "./harness.js";
import { scanPowerShell } from "./ps-tokens.js";

const SOURCE = readFileSync(path.join(REPO_ROOT, "src/central/agent-dist/install.ps1"), "utf8");

describe("the tokenizer can fail", () => {
  it.each([
    ["an unclosed brace", "if ($a) { Write-Host 'x'\n", "'{' not closed"],
    ["a bracket closed by another", "$a = @(1, 2]\n", "']' closes '('"],
    ["an unclosed string", "Write-Host 'it''s\n", "string not closed"],
    ["an unclosed double-quoted string", 'Write-Host "a $($b) c\n', "string not closed"],
    ["an unclosed subexpression", 'Write-Host "a $(Get-Date c"\n', "not closed"],
    ["an unclosed here-string", "$t = @'\nabc\n", "here-string not closed"],
    ["an unclosed block comment", "<# abc\n", "block comment not closed"],
  ])("finds %s", (_name, text, problem) => {
    expect(scanPowerShell(text).problems.join("; ")).toContain(problem);
  });

  it("accepts what PowerShell accepts: escapes, subexpressions with brackets, here-strings, comments", () => {
    const ok = [
      "# a comment with ( and '",
      "<# a block { comment #>",
      "$a = 'it''s ( fine'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell's ${name}, not a template
      '$b = "x `" $($a.Trim(@(1)[0])) ${a} }"',
      "$c = @'",
      "any ( { [ ' \" here",
      "'@",
      "if ($a) { $d = [int]'3' }",
    ].join("\n");
    expect(scanPowerShell(ok).problems).toEqual([]);
  });
});

describe("install.ps1 as GET /install.ps1 serves it", () => {
  let c: DistCentral;
  let served: string;
  let agentToken: string;
  beforeAll(async () => {
    c = await startDistCentral({ publicUrl: "https://srvutil.example.com/monitor" });
    agentToken = await createAgentToken(c.store, "win-01");
    const res = await fetch(`${c.url}/install.ps1`);
    expect(res.status).toBe(200);
    served = await res.text();
  });
  afterAll(async () => {
    await c.close();
  });

  it("tokenizes cleanly: strings, here-strings, comments closed, brackets balanced", () => {
    expect(scanPowerShell(SOURCE).problems).toEqual([]);
    expect(scanPowerShell(served).problems).toEqual([]);
  });

  it("starts with its param block (after comments), with the options the docs name", () => {
    const { words } = scanPowerShell(served);
    expect(words[0]).toBe("param");
    const block = served.slice(served.indexOf("param("), served.indexOf("\n)\n") + 2);
    for (const p of [
      "[string]$Enrol",
      "[string]$Central",
      "[switch]$Insecure",
      "[switch]$Reenrol",
      "[int]$Wait",
      "[string]$InstallDir",
    ]) {
      expect(block).toContain(p);
    }
  });

  it("has the central's public URL put in, once, as the default of -Central", () => {
    expect(served).not.toContain("@@CENTRAL_URL@@");
    expect(served).toContain("[string]$Central = 'https://srvutil.example.com/monitor',");
    expect(served.split("https://srvutil.example.com/monitor")).toHaveLength(2);
    // The downloads and the enrolment use that URL (or -Central), never a fixed host.
    expect(served).toContain('"$Central/agent/manifest.json"');
    expect(served).toContain('"$Central/agent/windows-x64"');
    expect(served).toContain("$env:SRVUTIL_CENTRAL_URL = $Central");
    expect(served).toContain("& $exe install --enrol $Enrol --bin-dir $InstallDir");
  });

  it("checks the SHA-256 before installing, refuses plain http:// to another host, and never calls exit", () => {
    const { words } = scanPowerShell(served);
    // `exit` would close the window that ran it with iex or a script block: errors are thrown.
    expect(words.map((w) => w.toLowerCase())).not.toContain("exit");
    expect(served.indexOf("Get-FileHash -Algorithm SHA256 -LiteralPath $download")).toBeLessThan(
      served.indexOf("Move-Item -Force -LiteralPath $download -Destination $exe"),
    );
    expect(served).toMatch(/if \(\$got -ne \$want\) \{\s+Stop-Install "SHA-256 mismatch/);
    expect(served).toMatch(
      /if \(-not \$uri\.IsLoopback\) \{\s+if \(-not \$Insecure\) \{\s+Stop-Install "refusing plain http/,
    );
  });

  it("holds no secret and only ASCII (Windows PowerShell 5.1 reads a BOM-less file as ANSI)", () => {
    const outside = [...served].filter((ch) => ch !== "\t" && ch !== "\n" && (ch < " " || ch > "~"));
    expect(outside).toEqual([]);
    for (const s of [agentToken, "srvu_", "srvv_", "srvr_", c.dir]) expect(served).not.toContain(s);
    expect(served.toLowerCase()).not.toContain("password");
  });
});
