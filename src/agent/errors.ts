import { ConfigError, InputError } from "../errors.js";

/**
 * Errors the operator fixes: a missing or malformed setting (exit 78), a bad
 * flag (exit 64). Both CLIs print them as one line; see src/errors.ts.
 */
export class AgentConfigError extends ConfigError {}

export class AgentUsageError extends InputError {}
