import { SrvutilError } from "../../../errors.js";
import type { ChannelAnswer } from "../channel-types.js";

/**
 * A channel's service refused the message or could not be reached.
 * `permanent` says a retry cannot help: a 4xx other than 408 and 429 (the
 * URL, token or payload is wrong and stays wrong), a redirect (srvutil does
 * not follow them; the configured URL must change), an SMTP 5xx to the
 * envelope or message. Network errors, timeouts and 5xx are worth retrying.
 *
 * The category is "unavailable" either way: the channel is a dependency, and
 * the alerts part records the failure instead of failing the evaluation.
 * `answer` holds the service's answer when it gave one (HTTP status and the
 * clipped body), never a secret: callers may store and show it.
 */
export class ChannelSendError extends SrvutilError {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly answer: ChannelAnswer | null = null,
    options: { cause?: unknown } = {},
  ) {
    super("unavailable", message, options);
  }
}

/** Whether a retry could change an HTTP status: 408 and 429 are "later", other 4xx are "never". */
export function isPermanentHttpStatus(status: number): boolean {
  if (status >= 300 && status < 400) return true;
  if (status === 408 || status === 429) return false;
  return status >= 400 && status < 500;
}
