import { gzipSync } from "node:zlib";
import { type MetricRow, serializeMetricsCsv } from "../protocol/index.js";
import { formatTagList, TAGS_HEADER, type Tags } from "../protocol/tags.js";

export interface UploadResponse {
  status: number;
  body: unknown;
}

/**
 * Posts one CSV v1 file to a central the way an agent does (gzip, bearer
 * token). The demo fleet uses it to replay history through the real API.
 */
export async function postMetrics(
  centralUrl: string,
  token: string,
  rows: readonly MetricRow[],
  /** Who sends it, as an agent says: its `tags` (X-Srvutil-Tags) and its User-Agent (release, platform, OS). */
  sender: { tags?: Tags; userAgent?: string } = {},
): Promise<UploadResponse> {
  const tags = sender.tags ?? {};
  const body = gzipSync(serializeMetricsCsv(rows));
  const res = await fetch(new URL("/api/v1/metrics", centralUrl), {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "text/csv",
      "content-encoding": "gzip",
      ...(Object.keys(tags).length > 0 ? { [TAGS_HEADER]: formatTagList(tags) } : {}),
      ...(sender.userAgent !== undefined ? { "user-agent": sender.userAgent } : {}),
    },
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the raw text: it is what the server said
  }
  return { status: res.status, body: parsed };
}
