import { readFileSync } from "node:fs";
import type { AgentConfig } from "../config.js";
import { describeConnectionError } from "../connection-errors.js";
import { AgentConfigError, AgentUsageError } from "../errors.js";
import { requestCentral } from "./central-request.js";
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
    answer = await requestCentral(url, {
      method: "POST",
      bearer: enrolmentToken,
      body: JSON.stringify({ server: config.serverName }),
      ca,
      timeoutMs,
    });
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
