/**
 * What the push route tests share: `central serve` as it runs (the fuzz
 * suite's central: SQLite file, loopback listener, web-01/web-02 agent
 * tokens, stored-state counts), a POST over loopback, and the samples stored
 * for a server.
 */
import { gzipSync } from "node:zlib";
import type { MetricRow } from "../../../src/protocol/index.js";
import type { FuzzCentral } from "../../fuzz/central.js";

export interface Posted {
  status: number;
  contentType: string;
  body: Buffer;
}

export async function post(
  c: FuzzCentral,
  url: string,
  body: string | Buffer,
  headers: Record<string, string>,
  options: { gzip?: boolean } = {},
): Promise<Posted> {
  const raw = typeof body === "string" ? Buffer.from(body) : body;
  const res = await fetch(`${c.url}${url}`, {
    method: "POST",
    headers: options.gzip ? { ...headers, "content-encoding": "gzip" } : headers,
    body: options.gzip ? gzipSync(raw) : raw,
  });
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/** Every stored row of a server (all mounts), oldest first. */
export async function samplesOf(c: FuzzCentral, server: string): Promise<MetricRow[]> {
  const rows: MetricRow[] = [];
  for await (const row of c.store.samples({ from: 0, to: Date.now() + 86_400_000, servers: [server] }))
    rows.push(row);
  return rows;
}

/** A gzip body that inflates to `bytes` of zeros: a few KB on the wire. */
export function gzipBomb(bytes: number): Buffer {
  return gzipSync(Buffer.alloc(bytes), { level: 9 });
}
