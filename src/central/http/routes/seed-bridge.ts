import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorReason, errorCode } from "../../../errors.js";
import { serverNameProblem } from "../../../protocol/index.js";
import { networkMatcher } from "../../auth/networks.js";
import type { RateLimiter } from "../../auth/rate-limit.js";
import type { AutomationLog } from "../../automation-log.js";
import { type IngestService, ServerMismatchError } from "../../ingest/ingest-service.js";
import { describeSeedProblem } from "../../ingest/seed/format.js";
import type { Storage } from "../../storage/store.js";
import { multipartBodyError, readCappedBody } from "../body.js";
import { errorAnswer } from "../error-answer.js";

/**
 * POST /upload_metrics: the seed system's endpoint, for its agents still
 * deployed (`requests.post(url, files={'file': …}, data={'server_name': …})`)
 * while they are replaced one by one. Off unless SRVUTIL_SEED_COMPAT=on.
 *
 * The seed agent cannot authenticate, so a request is accepted only from the
 * configured networks and only for a server name enrolled with
 * `srvutil central token add NAME`; anything else gets 403 and nothing is
 * stored. "From" is the client address (../../auth/client-address.ts): behind
 * a proxy listed in SRVUTIL_TRUSTED_PROXIES the address it forwards, and a
 * request that carries forwarding headers from any other peer is refused,
 * since its peer address is a proxy's. Each address may upload at the rate
 * an agent token may (429 with Retry-After beyond it). Accepted files take the one ingest path (raw file kept as received,
 * rows in one transaction, replays change nothing). Answers are short plain
 * text, as the seed's Flask service gave: the old agent prints them and
 * deletes its file whatever the answer. A refusal's line ends with the
 * API's stable code in parentheses, `(SRVUTIL_E_…)`.
 *
 * A line that breaks the seed contract is skipped and the rest of the file
 * stored (with the raw file, bad line included); the skipped lines are named
 * in the answer and in automation.log. Refusing the whole file instead would
 * lose its good samples too, since the agent deletes the file either way.
 */

export interface SeedBridgeSettings {
  /** CIDR list (SRVUTIL_SEED_COMPAT_NETWORKS), already checked. */
  networks: readonly string[];
  /** Zone of the seed agents' zone-less times (the report time zone). */
  sourceTimeZone: string;
}

export interface SeedBridgeDeps extends SeedBridgeSettings {
  store: Storage;
  ingest: IngestService;
  maxBodyBytes: number;
  log: AutomationLog | null;
  /** Uploads per client address (the rate of SRVUTIL_RATE_LIMIT_*, keyed by address here). */
  rateLimiter: RateLimiter;
}

export const SEED_BRIDGE_PATH = "/upload_metrics";

/** Skipped lines a bridge log entry names (the answer names 5); the rest are only counted. */
const LOGGED_SKIPPED_LINES = 20;

/** A plain-text refusal of the bridge; its line ends with the reason's code. */
class BridgeAnswer extends Error {
  constructor(
    readonly status: number,
    readonly reason: ErrorReason,
    readonly text: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(text);
  }
}

export const seedBridgeRoute: FastifyPluginAsyncJsonSchemaToTs<{ Options: SeedBridgeDeps }> = async (
  app,
  deps,
) => {
  const allowed = networkMatcher(deps.networks);
  // This plugin is encapsulated (registered without fastify-plugin): its error handler answers in
  // text, the rest of the API keeps JSON.
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const { status, text, headers } = bridgeAnswer(err);
    if (status >= 500) req.log.error({ err, client: req.client.address }, "seed bridge request failed");
    return reply.code(status).headers(headers).type("text/plain; charset=utf-8").send(text);
  });
  app.post(
    SEED_BRIDGE_PATH,
    {
      schema: {
        summary: "Seed-system upload (compatibility bridge, off by default)",
        description:
          "multipart/form-data with the seed agent's CSV in field `file` and the host name in field `server_name`. " +
          "No token: only from SRVUTIL_SEED_COMPAT_NETWORKS and for enrolled server names. See docs/migrating-from-the-seed.md.",
        tags: ["ingest"],
      },
      onRequest: async (req) => {
        const client = req.client;
        if (client.forwarded && !client.viaTrustedProxy) {
          // Through a proxy we do not know: its peer address is the proxy's, not the client's.
          deps.log?.warn("seed bridge refused", { reason: "untrusted_proxy", peer: client.peer });
          throw new BridgeAnswer(
            403,
            "untrusted_proxy",
            "Forbidden: this request came through a proxy that is not in SRVUTIL_TRUSTED_PROXIES (it carries X-Forwarded-For or Forwarded)",
          );
        }
        if (!allowed(client.address)) {
          deps.log?.warn("seed bridge refused", { reason: "network", address: client.address });
          throw new BridgeAnswer(
            403,
            "forbidden_network",
            "Forbidden: this address may not upload (SRVUTIL_SEED_COMPAT_NETWORKS)",
          );
        }
        const decision = deps.rateLimiter.take(client.address);
        if (!decision.allowed) {
          throw new BridgeAnswer(
            429,
            "rate_limited",
            `Too many uploads from this address; retry after ${decision.retryAfterSeconds} s`,
            { "retry-after": String(decision.retryAfterSeconds) },
          );
        }
        const length = Number(req.headers["content-length"]);
        if (Number.isFinite(length) && length > deps.maxBodyBytes) {
          throw new BridgeAnswer(413, "too_large", `File too large (limit ${deps.maxBodyBytes} bytes)`);
        }
      },
    },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const form = await readSeedForm(req, deps.maxBodyBytes);
      // Only valid names are enrolled; others are not looked up (a NUL made PostgreSQL answer 500).
      const enrolled =
        serverNameProblem(form.serverName) === null &&
        (await deps.store.tokens.hasActive("agent", form.serverName));
      if (!enrolled) {
        deps.log?.warn("seed bridge refused", { reason: "not_enrolled", server: form.serverName });
        throw new BridgeAnswer(
          403,
          "not_enrolled",
          `Forbidden: server '${form.serverName.slice(0, 64)}' is not enrolled (srvutil central token add NAME)`,
        );
      }
      const result = await deps.ingest.ingestFile(form.file, {
        expectedServer: form.serverName,
        format: "seed",
        sourceTimeZone: deps.sourceTimeZone,
      });
      // The seed's agents print this answer; it names where the raw copy really is.
      const where = result.rawStoredIn === "database" ? "in the database as " : "as ";
      let text = result.replay
        ? `File already received ${where}${result.rawPath}`
        : `File received and saved ${where}${result.rawPath}`;
      if (!result.replay && result.skippedLineCount > 0) {
        // Named up to a bound, counted in full: the answer and the log line stay small
        // whatever the file (the parser keeps the first 100 problems only).
        const lines = result.skippedRows.slice(0, LOGGED_SKIPPED_LINES).map(describeSeedProblem);
        const count = result.skippedLineCount;
        deps.log?.warn("seed bridge skipped lines", {
          server: result.server,
          upload_id: result.uploadId,
          skipped: count,
          lines,
        });
        text += `; ${count} line${count === 1 ? "" : "s"} skipped: ${lines.slice(0, 5).join("; ")}`;
        if (count > 5) text += "; …";
      }
      return reply.code(200).type("text/plain; charset=utf-8").send(text);
    },
  );
};

/** The seed agent's form: `server_name` and the file in `file`, in either order. */
async function readSeedForm(
  req: FastifyRequest,
  maxBodyBytes: number,
): Promise<{ serverName: string; file: Buffer }> {
  if (!req.isMultipart()) throw new BridgeAnswer(400, "bad_body", "No file part");
  let serverName: string | undefined;
  let file: Buffer | undefined;
  let emptyName = false;
  try {
    for await (const part of req.parts({
      limits: { fileSize: maxBodyBytes, files: 1, fields: 20, parts: 21 },
    })) {
      if (part.type === "field") {
        if (part.fieldname === "server_name" && typeof part.value === "string") serverName = part.value;
        continue;
      }
      if (part.fieldname !== "file") {
        part.file.resume();
        continue;
      }
      emptyName = part.filename === "";
      file = await readCappedBody(part.file, "identity", maxBodyBytes);
      if (part.file.truncated)
        throw new BridgeAnswer(413, "too_large", `File too large (limit ${maxBodyBytes} bytes)`);
    }
  } catch (err) {
    // A body cut off inside the form is the client's 400, not an internal error.
    throw err instanceof BridgeAnswer ? err : multipartBodyError(err);
  }
  if (serverName === undefined || serverName === "")
    throw new BridgeAnswer(400, "bad_body", "Server name missing");
  if (file === undefined) throw new BridgeAnswer(400, "bad_body", "No file part");
  if (emptyName) throw new BridgeAnswer(400, "bad_body", "No selected file");
  return { serverName, file };
}

/**
 * The seed agent's line for an error: the seed's own texts for the bridge's
 * refusals, the API's message otherwise, each ending with the API's code.
 */
function bridgeAnswer(err: FastifyError | Error): {
  status: number;
  text: string;
  headers: Record<string, string>;
} {
  if (err instanceof BridgeAnswer) {
    return { status: err.status, text: `${err.text} (${errorCode(err.reason)})`, headers: err.headers };
  }
  const { status, body, headers } = errorAnswer(err);
  const prefix = err instanceof ServerMismatchError ? "Forbidden" : "Error";
  return { status, text: `${prefix}: ${body.error} (${body.code})`, headers };
}
