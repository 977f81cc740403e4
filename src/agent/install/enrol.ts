import { readFileSync } from "node:fs";
import type { AgentConfig } from "../config.js";
import { describeConnectionError } from "../connection-errors.js";
import { AgentConfigError, AgentUsageError } from "../errors.js";
import { agentUserAgentHeader } from "../version.js";
import { errorText } from "./verify.js";

/**
 * `install --enrol TOKEN` (docs/enrol.md): the agent presents an enrolment
 * token once to POST /api/v1/enrol with its server name and receives its own
 * agent token, which install then saves like any other token. The agent
 * speaks only HTTP to the central here; it imports nothing of the central.
 */

export function enrolEndpoint(centralUrl: string): URL {
  const base = centralUrl.endsWith("/") ? centralUrl : `${centralUrl}/`;
  return new URL("api/v1/enrol", base);
}

/** Refuses what cannot be an enrolment token before anything is sent (an agent token pasted by mistake). */
export function checkEnrolmentToken(token: string): void {
  if (/^srve_[0-9a-f]{12}_[0-9a-f]{64}$/.test(token)) return;
  if (token.startsWith("srvu_")) {
    throw new AgentUsageError(
      "--enrol takes an enrolment token (srve_…), and this is an agent token: set it as SRVUTIL_AGENT_TOKEN (or SRVUTIL_AGENT_TOKEN_FILE) and run install without --enrol",
    );
  }
  throw new AgentUsageError(
    "--enrol: expected an enrolment token srve_… as printed by `srvutil central enrol create` on the central",
  );
}

async function post(
  url: URL,
  bearer: string,
  body: string,
  ca: Buffer | null,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const isHttps = url.protocol === "https:";
  const { request } = isHttps ? await import("node:https") : await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${bearer}`,
          "content-type": "application/json",
          accept: "application/json",
          "user-agent": agentUserAgentHeader(),
        },
        timeout: timeoutMs,
        ...(isHttps && ca !== null ? { ca } : {}),
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
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("close", () => clearTimeout(deadline));
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Enrols `config.serverName` with `enrolmentToken`; resolves to the server's own agent token. */
export async function enrolWithCentral(
  config: AgentConfig,
  enrolmentToken: string,
  timeoutMs = 10_000,
): Promise<string> {
  checkEnrolmentToken(enrolmentToken);
  const url = enrolEndpoint(config.centralUrl);
  const ca = config.caFile === null ? null : readFileSync(config.caFile);
  let answer: { status: number; body: string };
  try {
    answer = await post(url, enrolmentToken, JSON.stringify({ server: config.serverName }), ca, timeoutMs);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const problem = describeConnectionError(e, url);
    if (problem.configuration) throw new AgentConfigError(problem.message);
    throw new AgentConfigError(
      `cannot reach the central at ${config.centralUrl} to enrol (${e.code ? `${e.code}: ` : ""}${e.message}): ` +
        "check SRVUTIL_CENTRAL_URL, that the central runs and this host may connect to it",
    );
  }
  if (answer.status === 404) {
    throw new AgentConfigError(
      `the central at ${config.centralUrl} has no ${url.pathname}: check the URL, or update the central (enrolment needs a newer one)`,
    );
  }
  if (answer.status !== 201) {
    throw new AgentConfigError(
      `the central at ${config.centralUrl} refused to enrol server '${config.serverName}' (HTTP ${answer.status}: ${errorText(answer.body)})`,
    );
  }
  let token: unknown;
  try {
    token = (JSON.parse(answer.body) as { token?: unknown }).token;
  } catch {
    token = undefined;
  }
  if (typeof token !== "string" || !/^srvu_[0-9a-f]{12}_[0-9a-f]{64}$/.test(token)) {
    throw new AgentConfigError(
      `${url.href} did not answer with an agent token: is SRVUTIL_CENTRAL_URL the srvutil central?`,
    );
  }
  return token;
}
