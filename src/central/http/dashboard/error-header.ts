/** The header that carries a dashboard refusal's SRVUTIL_E_* code (plugin.ts sets it from the status unless a route did). */
export const ERROR_CODE_HEADER = "x-srvutil-error-code";
