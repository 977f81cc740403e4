import { readFileSync } from "node:fs";
import type { AgentConfig } from "../config.js";
import { describeConnectionError } from "../connection-errors.js";
import { AgentConfigError } from "../errors.js";
import { type HttpAnswer, requestCentral } from "./central-request.js";

/**
 * `install` checks its settings against the central before activating
 * anything: the URL answers, the token is accepted, and the token belongs to
 * the server name this agent will put in every row. A mistake found here is
 * one message at the terminal; found later, it is a service that starts fine
 * and then logs 401/403 every 20 minutes.
 */

export function whoamiEndpoint(centralUrl: string): URL {
  const base = centralUrl.endsWith("/") ? centralUrl : `${centralUrl}/`;
  return new URL("api/v1/agent/whoami", base);
}

export function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return body.slice(0, 120).replace(/\s+/g, " ");
}

/**
 * The message for a token whose server is not this agent's server name.
 * Names are compared exactly (the central keeps them case-sensitive), so a
 * Windows host, whose name is upper case, and a token made for the lower-case
 * name do not match: say which two ways out there are.
 */
export function serverMismatchMessage(
  tokenServer: string,
  agentServer: string,
  nameWasGiven: boolean,
): string {
  const source = nameWasGiven ? "SRVUTIL_SERVER_NAME / server_name" : "this host's name";
  const head = `the token belongs to server '${tokenServer}', but ${source} is '${agentServer}'`;
  if (tokenServer.toLowerCase() === agentServer.toLowerCase()) {
    return (
      `${head}: server names are case-sensitive (Windows reports host names in upper case). ` +
      `Either set SRVUTIL_SERVER_NAME=${tokenServer} and run install again (it is saved in agent.json), ` +
      `or create a token for '${agentServer}' on the central (srvutil central token add ${agentServer}) and use that one`
    );
  }
  return (
    `${head}: use the token created for this server (srvutil central token add ${agentServer}), ` +
    `or set SRVUTIL_SERVER_NAME=${tokenServer} if this server reports under that name`
  );
}

export interface VerifyResult {
  /** The server name the central has for the token (equal to config.serverName). */
  server: string;
}

/** Throws an AgentConfigError naming what to fix; resolves when the central accepts token and name. */
export async function verifyAgainstCentral(
  config: AgentConfig,
  nameWasGiven: boolean,
  timeoutMs = 10_000,
): Promise<VerifyResult> {
  const url = whoamiEndpoint(config.centralUrl);
  const ca = config.caFile === null ? null : readFileSync(config.caFile);
  let answer: HttpAnswer;
  try {
    answer = await requestCentral(url, { method: "GET", bearer: config.token, ca, timeoutMs });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const problem = describeConnectionError(e, url);
    if (problem.configuration) throw new AgentConfigError(problem.message);
    throw new AgentConfigError(
      `cannot reach the central at ${config.centralUrl} (${e.code ? `${e.code}: ` : ""}${e.message}): ` +
        "check SRVUTIL_CENTRAL_URL, that the central runs and this host may connect to it" +
        (url.protocol === "https:" ? ", and SRVUTIL_AGENT_CA_FILE for a private CA" : ""),
    );
  }
  if (answer.status === 401 || answer.status === 403) {
    throw new AgentConfigError(
      `the central at ${config.centralUrl} refused the token (HTTP ${answer.status}: ${errorText(answer.body)}): ` +
        "check the token file, or create a new token with `srvutil central token add <server>`",
    );
  }
  if (answer.status === 404) {
    throw new AgentConfigError(
      `the central at ${config.centralUrl} has no ${url.pathname}: check the URL (and its path prefix), ` +
        "or update the central; `install --no-verify` skips this check",
    );
  }
  if (answer.status !== 200) {
    throw new AgentConfigError(
      `the central at ${config.centralUrl} answered HTTP ${answer.status} to ${url.pathname}: ${errorText(answer.body)}`,
    );
  }
  let server: unknown;
  try {
    server = (JSON.parse(answer.body) as { server?: unknown }).server;
  } catch {
    server = undefined;
  }
  if (typeof server !== "string") {
    throw new AgentConfigError(
      `${url.href} did not answer with a server name: is SRVUTIL_CENTRAL_URL the srvutil central?`,
    );
  }
  if (server !== config.serverName) {
    throw new AgentConfigError(serverMismatchMessage(server, config.serverName, nameWasGiven));
  }
  return { server };
}
