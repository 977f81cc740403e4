import { agentUserAgentHeader } from "../version.js";

/** The central's answer: its status and up to 64 KiB of its body. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One request of `install` to the central (whoami, enrol), with the
 * agent's bearer token, its User-Agent, the CA file when given, and a
 * deadline on the whole exchange. The body read is capped: a wrong URL
 * pointing at something large costs nothing.
 */
export async function requestCentral(
  url: URL,
  o: { method: "GET" | "POST"; bearer: string; body?: string; ca: Buffer | null; timeoutMs: number },
): Promise<HttpAnswer> {
  const isHttps = url.protocol === "https:";
  const { request } = isHttps ? await import("node:https") : await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method,
        headers: {
          authorization: `Bearer ${o.bearer}`,
          ...(o.body !== undefined ? { "content-type": "application/json" } : {}),
          accept: "application/json",
          "user-agent": agentUserAgentHeader(),
        },
        timeout: o.timeoutMs,
        ...(isHttps && o.ca !== null ? { ca: o.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= 64 * 1024) chunks.push(c);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    const deadline = setTimeout(
      () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    req.on("close", () => clearTimeout(deadline));
    req.on("timeout", () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(o.body);
  });
}
