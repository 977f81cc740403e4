import type { AgentConfig } from "../config.js";
import type { AgentLog } from "../log.js";
import { AGENT_VERSION } from "../version.js";
import { checkForUpdate, type SelfUpdateContext } from "./apply.js";
import { clearPending, type PendingUpdate, readPending, rollBack, settleAtStart } from "./state.js";

/** What the daemon asks of self-update: settle a swap at start, confirm it, check on a timer. */
export interface SelfUpdateHooks {
  /** This start rolled the update back: the daemon exits for a restart without sampling. */
  rolledBack: boolean;
  /** The new version has not uploaded yet. */
  onTrial(): boolean;
  /** A round uploaded something: ends a trial. */
  uploaded(): Promise<void>;
  /** Starts the check timer (and the trial's deadline); `stop` ends the daemon for a restart. */
  schedule(stop: (why: "updated" | "rolled_back") => void, idle: () => Promise<void>): NodeJS.Timeout[];
}

export async function startSelfUpdate(
  config: AgentConfig,
  ctx: SelfUpdateContext,
  log: AgentLog,
): Promise<SelfUpdateHooks> {
  const rollbackMs = config.selfUpdate.rollbackSeconds * 1000;
  const start = await settleAtStart(config.agentDir, AGENT_VERSION, rollbackMs, log);
  let trial: { pending: PendingUpdate; deadline: number } | null = start.state === "trial" ? start : null;
  let checking = false;
  let notPinnedLogged = false;

  return {
    rolledBack: start.state === "rolled_back",
    onTrial: () => trial !== null,
    async uploaded() {
      if (trial === null) return;
      const p = await readPending(config.agentDir);
      if (p !== null && p.to === AGENT_VERSION) await clearPending(config.agentDir);
      log.info("update_confirmed", `update ${trial.pending.from} → ${AGENT_VERSION} confirmed by an upload`, {
        from: trial.pending.from,
        to: AGENT_VERSION,
      });
      trial = null;
    },
    schedule(stop, idle) {
      const check = async () => {
        if (trial !== null || checking) return;
        checking = true;
        try {
          // No update in the middle of an upload: the swap waits for the round to end.
          await idle();
          const outcome = await checkForUpdate(config, ctx, log);
          if (outcome.kind === "not_pinned" && !notPinnedLogged) {
            notPinnedLogged = true;
            log.warn(
              "update_not_pinned",
              "self-update is off: no pinned central key (run install again to pin it)",
            );
          }
          if (outcome.kind === "swapped") stop("updated");
        } catch (err) {
          log.warn("update_check_failed", `self-update check failed: ${(err as Error).message}`);
        } finally {
          checking = false;
        }
      };
      const timers = [setInterval(check, config.selfUpdate.checkSeconds * 1000)];
      timers.push(setTimeout(check, 1000));
      if (trial !== null) {
        const current = trial;
        timers.push(
          setTimeout(
            async () => {
              if (trial === null) return;
              try {
                await rollBack(
                  config.agentDir,
                  current.pending,
                  log,
                  `no successful upload within ${config.selfUpdate.rollbackSeconds} s`,
                );
                stop("rolled_back");
              } catch (err) {
                log.error("update_rollback_failed", `rollback failed: ${(err as Error).message}`);
              }
            },
            Math.max(0, current.deadline - Date.now()),
          ),
        );
      }
      return timers;
    },
  };
}
