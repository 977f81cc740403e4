import { isOutdated } from "../agent-release.js";
import { escapeHtml } from "../report/escape.js";
import type { InputKind, ServerInput } from "../storage/server-input-store.js";
import { ago } from "./layout.js";

/*
 * What feeds each server on the fleet page: the agent's release and OS and
 * its last refused upload, or the foreign input's name; and how many agents
 * are behind the release this central ships. Every text here came from an
 * agent (its User-Agent, its upload's error): escaped, whatever the store
 * already cleaned.
 */

const INPUT_LABEL: Record<InputKind, string> = {
  agent: "agent",
  scrape: "scraped (node_exporter)",
  remote_write: "Prometheus remote_write",
  otlp: "OpenTelemetry (OTLP)",
  telegraf: "Telegraf",
  collectd: "collectd",
};

/** "linux x64 · Linux 6.8.0-45-generic", or null when the agent did not say. */
export function osText(input: ServerInput): string | null {
  const parts = [[input.platform, input.arch].filter((x) => x !== null).join(" "), input.os ?? ""].filter(
    (x) => x !== "",
  );
  return parts.length === 0 ? null : parts.join(" · ");
}

/** The fleet table's "Agent" cell, as a plain string (the table is built without template objects). */
export function inputCellHtml(input: ServerInput | null, current: string, now: number): string {
  if (input === null) return `<td class="feed">–</td>`;
  const e = escapeHtml;
  if (input.input !== "agent")
    return `<td class="feed"><span class="input">${e(INPUT_LABEL[input.input])}</span></td>`;
  const version =
    input.agentVersion === null
      ? `<span class="version unknown">version unknown</span>`
      : `<span class="version">${e(input.agentVersion)}</span>${
          isOutdated(input, current) ? ` <span class="outdated">outdated</span>` : ""
        }`;
  const os = osText(input);
  return (
    `<td class="feed">${version}${os === null ? "" : `<span class="os">${e(os)}</span>`}` +
    `${lastErrorHtml(input, now)}</td>`
  );
}

/** "refused 3 min ago: SRVUTIL_E_… message", marked as older when an upload succeeded since. */
function lastErrorHtml(input: ServerInput, now: number): string {
  const err = input.lastError;
  if (err === null) return "";
  const e = escapeHtml;
  const older = input.lastSuccessAt !== null && input.lastSuccessAt > err.at;
  return (
    `<span class="upload-error${older ? " older" : ""}">` +
    `${older ? "before the last success, " : ""}upload refused <time datetime="${new Date(err.at).toISOString()}">${ago(err.at, now)}</time>: ` +
    `<code>${e(err.code)}</code> ${e(clip(err.message))}</span>`
  );
}

/** How much of an error message the table shows (the store keeps up to 300 characters). */
const CELL_MESSAGE_CHARS = 120;

function clip(text: string): string {
  const chars = [...text];
  return chars.length <= CELL_MESSAGE_CHARS ? text : `${chars.slice(0, CELL_MESSAGE_CHARS - 1).join("")}…`;
}

/** The line under the live counts: how many agents are behind the release this central ships. */
export function outdatedLineHtml(outdated: number, current: string): string {
  const e = escapeHtml;
  return (
    `<p class="agents-outdated"><strong>${outdated}</strong> agent${outdated === 1 ? "" : "s"} outdated ` +
    `<span class="sub">below ${e(current)}, the release this central ships</span></p>`
  );
}
