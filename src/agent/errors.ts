import { ConfigError, InputError } from "../errors.js";

/**
 * Errors the operator fixes: a missing or malformed setting (exit 78), a bad
 * flag (exit 64). Both CLIs print them as one line ending in the stable code
 * (SRVUTIL_E_MISCONFIGURED, SRVUTIL_E_USAGE); see src/errors.ts.
 */
export class AgentConfigError extends ConfigError {}

export class AgentUsageError extends InputError {
  constructor(message: string) {
    super(message, { reason: "usage" });
  }
}
