import { execFileSync } from "node:child_process";
import { requireProgram } from "./programs.js";

/**
 * The files of a ZIP archive, read by Python's zipfile (an implementation
 * that is not ours, and which checks every CRC): name → content.
 */
export function unzip(archive: Buffer): Map<string, Buffer> {
  const python = requireProgram("python3", "python3");
  const script = [
    "import sys, zipfile, io, json, base64",
    "z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))",
    "bad = z.testzip()",
    "assert bad is None, 'bad CRC: ' + str(bad)",
    "print(json.dumps({i.filename: base64.b64encode(z.read(i)).decode() for i in z.infolist()}))",
  ].join("\n");
  const out = execFileSync(python, ["-c", script], { input: archive, maxBuffer: 1 << 30 });
  const files = JSON.parse(out.toString()) as Record<string, string>;
  return new Map(Object.entries(files).map(([name, b64]) => [name, Buffer.from(b64, "base64")]));
}
