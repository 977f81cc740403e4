import type { AgentIdentity } from "../../protocol/agent-identity.js";
import type { AutomationLog } from "../automation-log.js";
import type { InputObservation, ServerInputStore } from "../storage/server-input-store.js";

/** A server's row is rewritten at least this often while it is seen, so "last seen" stays near. */
export const INPUT_REFRESH_MS = 5 * 60_000;
/** Servers remembered per instance; past it the memory starts over (each then writes once more). */
const MAX_REMEMBERED = 100_000;

interface Written {
  input: string;
  identity: string;
  at: number;
  /** The last error written; whether a success was written after it. */
  errorKey: string | null;
  successAfterError: boolean;
}

/**
 * Records what feeds each server (store.serverInputs) from the upload and
 * whoami routes and the foreign inputs, cheaply: an observation is written
 * only when it changes what is shown (another input or identity, a new
 * error, the first success after an error) or when this instance last
 * wrote that server INPUT_REFRESH_MS ago. An agent uploading every minute
 * thus costs one small write every five minutes, outside the upload's
 * transaction. Another instance's write is merged by the store (newest wins
 * per field), so each instance only needs to know what it wrote itself.
 *
 * A failure to write is logged and swallowed: the upload it describes is
 * stored (or refused) already, and must not be answered otherwise for it.
 */
export class ServerInputRecorder {
  private readonly written = new Map<string, Written>();

  constructor(
    private readonly store: ServerInputStore,
    private readonly log: AutomationLog | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records an observation (at = now) when it is worth a write; resolves when written or skipped. */
  async observe(o: Omit<InputObservation, "at">): Promise<void> {
    const at = this.now();
    const before = this.written.get(o.server);
    const identity = identityKey(o.agent);
    const errorKey =
      o.outcome === null || o.outcome === "ok" ? null : `${o.outcome.code}\n${o.outcome.message}`;
    const due =
      before === undefined ||
      before.input !== o.input ||
      before.identity !== identity ||
      at - before.at >= INPUT_REFRESH_MS ||
      at < before.at ||
      (errorKey !== null && (errorKey !== before.errorKey || before.successAfterError)) ||
      (o.outcome === "ok" && before.errorKey !== null && !before.successAfterError);
    if (!due) return;
    if (this.written.size >= MAX_REMEMBERED) this.written.clear();
    this.written.set(o.server, {
      input: o.input,
      identity,
      at,
      errorKey: errorKey ?? before?.errorKey ?? null,
      successAfterError:
        errorKey !== null ? false : o.outcome === "ok" ? true : (before?.successAfterError ?? false),
    });
    try {
      await this.store.record({ ...o, at });
    } catch (err) {
      // Written next time instead.
      this.written.delete(o.server);
      this.log?.warn("server input not recorded", {
        server: o.server,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** The foreign inputs' batches: one observation per server written. */
  async observeForeign(servers: readonly string[], input: InputObservation["input"]): Promise<void> {
    for (const server of servers) await this.observe({ server, input, agent: null, outcome: "ok" });
  }
}

function identityKey(a: AgentIdentity | null): string {
  return a === null ? "" : `${a.version}\n${a.platform}\n${a.arch}\n${a.os}`;
}
