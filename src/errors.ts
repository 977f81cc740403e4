/**
 * The one error taxonomy of srvutil. Every error we raise on purpose is a
 * SrvutilError with a category; the category alone decides the HTTP status
 * the central answers and the exit code the CLI returns, so no caller
 * matches class names or messages.
 *
 * It lives at the top of src/ (not in src/central or src/agent) and imports
 * nothing, because the agent, the protocol parser, the central and the CLI
 * all raise these errors, and the agent must never import central code: its
 * single-file bundle has to stay free of the central's dependencies.
 */

export type ErrorCategory =
  /** The caller's request, file or command line is wrong; they can fix it and retry. */
  | "bad_input"
  /** A setting (environment variable, config file) is missing or malformed; the operator fixes it. */
  | "bad_config"
  /** Something we depend on (database, mail server, disk, the central) does not answer; retry later. */
  | "unavailable"
  /** A bug or a state we did not foresee. Also every error that is not a SrvutilError. */
  | "internal";

/** HTTP status per category; an error may override it (413, 415, 429, 403 … stay specific). */
export const HTTP_STATUS: Readonly<Record<ErrorCategory, number>> = Object.freeze({
  bad_input: 400,
  // A misconfigured central is the server's fault, not the client's: 5xx, so agents keep their files and retry.
  bad_config: 500,
  unavailable: 503,
  internal: 500,
});

/**
 * CLI exit codes per category, from BSD sysexits(3) so cron mails and
 * service managers can tell "fix the command" from "fix the config" from
 * "try again later" from "report a bug". 0 is success and 1 means the
 * command ran but part of its work failed (a file of an import, an email
 * of `report send`); commander's own usage errors keep commander's codes.
 */
export const EXIT_CODE: Readonly<Record<ErrorCategory, number>> = Object.freeze({
  /** EX_USAGE: a bad flag or argument value (every bad input reaching the CLI's top is one). */
  bad_input: 64,
  /** EX_CONFIG */
  bad_config: 78,
  /** EX_UNAVAILABLE */
  unavailable: 69,
  /** EX_SOFTWARE */
  internal: 70,
});

export interface SrvutilErrorOptions {
  /** HTTP status when the category's default is not precise enough (e.g. 403, 413, 429). */
  status?: number;
  /** The reason behind the stable code, when the category's (CATEGORY_REASON) is not precise enough. */
  reason?: ErrorReason;
  cause?: unknown;
}

/** The reason (and so the code) of an error that names none: its category's. */
export const CATEGORY_REASON: Readonly<Record<ErrorCategory, ErrorReason>> = Object.freeze({
  bad_input: "bad_request",
  bad_config: "misconfigured",
  unavailable: "unavailable",
  internal: "internal",
});

/**
 * The one base class of every error srvutil raises on purpose. Its category
 * decides the HTTP status and the exit code; its reason gives the stable
 * code (`SRVUTIL_E_…`) that API bodies carry and the CLIs print. A kind of
 * error gets its own class only when some code must tell it apart
 * (instanceof); one that differs only in its code passes `reason`.
 */
export class SrvutilError extends Error {
  readonly status: number;
  readonly reason: ErrorReason;
  constructor(
    readonly category: ErrorCategory,
    message: string,
    options: SrvutilErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status ?? HTTP_STATUS[category];
    this.reason = options.reason ?? CATEGORY_REASON[category];
    // Only for stack traces and logs: nothing classifies errors by name.
    this.name = new.target.name;
  }
}

/** The request, file or command line is wrong (HTTP 400 unless overridden, exit 64). */
export class InputError extends SrvutilError {
  constructor(message: string, options?: SrvutilErrorOptions) {
    super("bad_input", message, options);
  }
}

/**
 * A setting is missing or malformed (HTTP 500, exit 78). The message starts
 * with the setting's name (an environment variable or a config file key)
 * and says the accepted form, so the operator knows what to change.
 */
export class ConfigError extends SrvutilError {
  constructor(message: string, options?: SrvutilErrorOptions) {
    super("bad_config", message, options);
  }
}

/** A dependency does not answer (HTTP 503, exit 69). */
export class UnavailableError extends SrvutilError {
  constructor(message: string, options?: SrvutilErrorOptions) {
    super("unavailable", message, options);
  }
}

export function errorCategory(err: unknown): ErrorCategory {
  return err instanceof SrvutilError ? err.category : "internal";
}

export function httpStatusOf(err: unknown): number {
  return err instanceof SrvutilError ? err.status : HTTP_STATUS.internal;
}

export function exitCodeOf(err: unknown): number {
  return EXIT_CODE[errorCategory(err)];
}

/** The stable code of any error: its reason's, or SRVUTIL_E_INTERNAL for one that is not a SrvutilError. */
export function errorCodeOf(err: unknown): string {
  return errorCode(err instanceof SrvutilError ? err.reason : "internal");
}

/** A bad flag or argument of a command line (exit 64, code SRVUTIL_E_USAGE). */
export function usageError(message: string): InputError {
  return new InputError(message, { reason: "usage" });
}

/**
 * Every reason an error answer of the central can give, each with one
 * stable code (errorCode). Listed once here so the compiler refuses a reason
 * that is not: docs/api.md's table of codes lists exactly these
 * (test/error-codes.test.ts holds the two in step). The CSV reasons are
 * protocol's CsvErrorReason, repeated because this file imports nothing.
 */
export const ERROR_REASONS = [
  // A metrics file breaks CSV v1 or the seed format (400).
  "empty",
  "encoding",
  "syntax",
  "header",
  "field_count",
  "timestamp",
  "server",
  "number",
  "mount",
  "consistency",
  "too_many_rows",
  "header_too_long",
  "too_many_columns",
  "line_too_long",
  "too_many_bad_lines",
  "too_many_mounts",
  "too_many_server_mounts",
  // A foreign input's batch (docs/integrations.md).
  "missing_families",
  // The request around the file.
  "bad_gzip",
  "bad_body",
  "bad_request",
  "unauthorized",
  "forbidden_server",
  "not_found",
  "request_timeout",
  "too_large",
  "unsupported_media_type",
  "unsupported_charset",
  "unsupported_encoding",
  "sample_too_old",
  "bad_tags",
  "headers_too_large",
  "rate_limited",
  "auth_throttled",
  // The dashboard (a header on its pages, see DASHBOARD_ERROR_REASONS).
  "forbidden",
  // Dashboard sign-in with OpenID Connect and SRVUTIL_LOCAL_LOGIN (docs/dashboard.md).
  "oidc_refused",
  "oidc_no_role",
  "oidc_unavailable",
  "local_login_off",
  // The seed bridge's own refusals.
  "untrusted_proxy",
  "forbidden_network",
  "not_enrolled",
  // Enrolment (POST /api/v1/enrol, docs/enrol.md).
  "enrol_token_unknown",
  "enrol_token_revoked",
  "enrol_token_expired",
  "enrol_token_used_up",
  "enrol_name_not_allowed",
  "already_enrolled",
  // The agent downloads (GET /agent/{platform}).
  "unknown_platform",
  "agent_not_built",
  // The command line and the operator's own actions (the CLIs print these codes).
  "usage",
  "already_exists",
  "weak_password",
  "central_serving",
  // The central's side (5xx).
  "misconfigured",
  "internal",
  "unavailable",
] as const;

export type ErrorReason = (typeof ERROR_REASONS)[number];

/**
 * The stable code of an error answer: `SRVUTIL_E_` and the machine-readable
 * reason in capitals (reason `header_too_long` → `SRVUTIL_E_HEADER_TOO_LONG`).
 * Derived, so every reason has exactly one code.
 */
export function errorCode(reason: ErrorReason): string {
  return `SRVUTIL_E_${reason.toUpperCase()}`;
}
