import http from "node:http";

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP request over a real socket, from a chosen loopback source address
 * (127.0.0.0/8 is all this machine's, so 127.0.0.2 is "another client" and
 * 127.0.0.9 "the proxy"), with exactly the headers given: node:http, not
 * fetch, whose dispatcher picks neither the source nor forwarding headers.
 */
export function httpRequest(
  url: string,
  o: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: string | Buffer;
    localAddress?: string;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: o.method ?? "GET",
        localAddress: o.localAddress ?? "127.0.0.1",
        headers: {
          ...(o.body === undefined ? {} : { "content-length": String(Buffer.byteLength(o.body)) }),
          ...o.headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

/** The Set-Cookie lines of an answer (always a list). */
export function setCookies(a: { headers: http.IncomingHttpHeaders }): string[] {
  const v = a.headers["set-cookie"];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A multipart/form-data body with text fields and at most one file, and its Content-Type. */
export function multipartBody(
  fields: Record<string, string>,
  file: { field: string; name: string; bytes: Buffer } | null,
): { body: Buffer; contentType: string } {
  const boundary = `----srvutil${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  if (file !== null) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.name}"\r\n\r\n`,
      ),
      file.bytes,
      Buffer.from("\r\n"),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
