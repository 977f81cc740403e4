import { createHash } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import { agentUserAgentHeader } from "../version.js";

export interface GetResult {
  status: number;
  /** The body when not written to a file. */
  body: Buffer;
  size: number;
  sha256: string;
}

/**
 * GET with the agent's CA file, at most `maxBytes` of body (more is an
 * error), into memory or, with `to`, into a new file that is fsynced
 * before this resolves. The digest is computed while the bytes arrive.
 */
export async function httpGet(
  url: URL,
  caFile: string | null,
  maxBytes: number,
  options: { to?: string; timeoutMs?: number; authorization?: string } = {},
): Promise<GetResult> {
  const isHttps = url.protocol === "https:";
  const { request } = isHttps ? await import("node:https") : await import("node:http");
  const ca = isHttps && caFile !== null ? await readFile(caFile) : null;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const out = options.to === undefined ? null : await open(options.to, "wx", 0o600);
  try {
    const result = await new Promise<GetResult>((resolve, reject) => {
      const req = request(
        url,
        {
          method: "GET",
          headers: {
            "user-agent": agentUserAgentHeader(),
            ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
          },
          timeout: timeoutMs,
          ...(ca !== null ? { ca } : {}),
        },
        (res) => {
          const hash = createHash("sha256");
          const chunks: Buffer[] = [];
          let size = 0;
          let writing: Promise<unknown> = Promise.resolve();
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              // Settled here, then the connection dropped without an error event nobody listens to.
              reject(new Error(`${url.pathname}: more than ${maxBytes} bytes`));
              res.destroy();
              req.destroy();
              return;
            }
            hash.update(c);
            if (out === null) chunks.push(c);
            else {
              res.pause();
              writing = writing.then(() => out.write(c)).then(() => res.resume(), reject);
            }
          });
          res.on("end", () => {
            ended = true;
            writing.then(
              () =>
                resolve({
                  status: res.statusCode ?? 0,
                  body: Buffer.concat(chunks),
                  size,
                  sha256: hash.digest("hex"),
                }),
              reject,
            );
          });
          res.on("error", reject);
          let ended = false;
          res.on("close", () => {
            if (!ended) reject(new Error(`${url.pathname}: connection closed early`));
          });
        },
      );
      const deadline = setTimeout(
        () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      req.on("close", () => clearTimeout(deadline));
      req.on("error", reject);
      req.end();
    });
    if (out !== null) await out.sync();
    return result;
  } finally {
    await out?.close();
  }
}
