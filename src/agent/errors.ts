/**
 * Errors the operator fixes (a missing setting, a bad flag). Their class names
 * end in ConfigError / UsageError so the srvutil CLI prints them as one line.
 */
export class AgentConfigError extends Error {
  override readonly name = "AgentConfigError";
}

export class AgentUsageError extends Error {
  override readonly name = "AgentUsageError";
}
