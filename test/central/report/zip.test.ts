import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { zipOneFile } from "../../../src/central/report/zip.js";
import { requireProgram } from "../../helpers/programs.js";
import { unzip } from "../../helpers/unzip.js";

describe("zipOneFile", () => {
  const when = new Date("2026-11-23T06:00:14Z");

  it("writes a ZIP that Python's zipfile reads back byte for byte (CRC checked), UTF-8 name kept", () => {
    const content = Buffer.from(`${"<tr><td>web-01</td></tr>\n".repeat(20_000)}ünïcode ✓\n`);
    const zip = zipOneFile("srvutil-2026-W47-müller.html", content, when);
    expect(zip.length).toBeLessThan(content.length / 20);
    const files = unzip(zip);
    expect([...files.keys()]).toEqual(["srvutil-2026-W47-müller.html"]);
    expect(files.get("srvutil-2026-W47-müller.html")!.equals(content)).toBe(true);
  });

  it("stores the given time (same report, same bytes) and a regular file mode", () => {
    const content = Buffer.from("week,server\r\n2026-W47,db-01\r\n");
    const a = zipOneFile("x.csv", content, when);
    expect(zipOneFile("x.csv", content, when).equals(a)).toBe(true);
    const python = requireProgram("python3", "python3");
    const info = execFileSync(
      python,
      [
        "-c",
        "import sys, zipfile, io; i = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())).infolist()[0]; print(i.date_time, oct(i.external_attr >> 16), i.compress_type)",
      ],
      { input: a },
    )
      .toString()
      .trim();
    // DOS time has 2-second steps: 06:00:14.
    expect(info).toBe("(2026, 11, 23, 6, 0, 14) 0o100644 8");
  });

  it("is what the unzip tool of the system accepts", () => {
    const unzipTool = requireProgram("unzip", "unzip");
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-zip-"));
    try {
      const file = path.join(dir, "r.json.zip");
      writeFileSync(file, zipOneFile("r.json", Buffer.from('{"week":"2026-W47"}\n'), when));
      expect(execFileSync(unzipTool, ["-p", file, "r.json"]).toString()).toBe('{"week":"2026-W47"}\n');
      expect(execFileSync(unzipTool, ["-t", file]).toString()).toContain("No errors detected");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
