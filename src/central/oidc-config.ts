import { z } from "zod";

/**
 * The SRVUTIL_OIDC_* and SRVUTIL_LOCAL_LOGIN part of the central's one
 * configuration schema (./config.ts spreads OIDC_ENV_SHAPE into it and runs
 * checkOidcTogether with the other checks), kept here to keep config.ts short.
 */

function refuse(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: "custom", message });
  return z.NEVER as never;
}

const whole = (min: number, max: number) =>
  z.string().transform((raw, ctx) => {
    const v = Number(raw.trim());
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      return refuse(ctx, `expected a whole number ${min}-${max}, got '${raw}'`);
    }
    return v;
  });

const onOff = z.enum(["on", "off"], { error: "expected on or off" });

/** A comma-separated list of claim values (SRVUTIL_OIDC_ADMIN_VALUES, SRVUTIL_OIDC_VIEWER_VALUES). */
const claimValues = z.string().transform((v) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== ""),
);

/**
 * SRVUTIL_OIDC_GROUP_VIEWERS: `claimvalue:groupA+groupB,other:groupC`, each
 * claim value a viewer limited to the named srvutil groups.
 */
const groupViewers = z.string().transform((raw, ctx) => {
  const out: { value: string; groups: string[] }[] = [];
  for (const part of raw.split(",")) {
    if (part.trim() === "") continue;
    const i = part.lastIndexOf(":");
    const value = i <= 0 ? "" : part.slice(0, i).trim();
    const groups = (i <= 0 ? "" : part.slice(i + 1))
      .split("+")
      .map((g) => g.trim())
      .filter((g) => g !== "");
    if (value === "" || groups.length === 0) {
      return refuse(ctx, `expected claimvalue:groupA+groupB,… , got '${part.trim()}'`);
    }
    out.push({ value, groups });
  }
  return out;
});

/** SRVUTIL_OIDC_ROLE_CLAIM: a claim name, or a dotted path into nested claims (realm_access.roles). */
const claimPath = z
  .string()
  .transform((v) => v.trim())
  .pipe(
    z.string().regex(/^[^\s.]+(\.[^\s.]+)*$/, "expected a claim name such as groups or realm_access.roles"),
  );

const issuerUrl = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  try {
    const u = new URL(v);
    if ((u.protocol === "https:" || u.protocol === "http:") && u.search === "" && u.hash === "") return v;
  } catch {
    // refused below
  }
  return refuse(
    ctx,
    `expected the provider's issuer URL, e.g. https://login.example.com/realms/main, got '${raw}'`,
  );
});

export const OIDC_ENV_SHAPE = {
  // Dashboard sign-in (docs/dashboard.md, "Sign-in with OpenID Connect")
  SRVUTIL_LOCAL_LOGIN: onOff.default("on"),
  SRVUTIL_OIDC_ISSUER: issuerUrl.optional(),
  SRVUTIL_OIDC_CLIENT_ID: z.string().trim().min(1).optional(),
  SRVUTIL_OIDC_CLIENT_SECRET: z.string().optional(),
  SRVUTIL_OIDC_CLIENT_SECRET_FILE: z.string().optional(),
  SRVUTIL_OIDC_SCOPES: z
    .string()
    .transform((v) => v.trim().split(/[\s,]+/))
    .prefault("openid profile email groups"),
  SRVUTIL_OIDC_ROLE_CLAIM: claimPath.prefault("groups"),
  SRVUTIL_OIDC_ADMIN_VALUES: claimValues.default([]),
  SRVUTIL_OIDC_VIEWER_VALUES: claimValues.default([]),
  SRVUTIL_OIDC_GROUP_VIEWERS: groupViewers.default([]),
  SRVUTIL_OIDC_PROVIDER_NAME: z.string().trim().min(1).max(60).optional(),
  SRVUTIL_OIDC_TIMEOUT_SECONDS: whole(1, 120).prefault("10"),
};

/** The parsed OIDC variables, with the one other setting they depend on. */
type OidcEnv = z.output<z.ZodObject<typeof OIDC_ENV_SHAPE>> & { SRVUTIL_PUBLIC_URL?: string | undefined };

/** The OIDC settings that only work together (docs/dashboard.md, "Sign-in with OpenID Connect"). */
export function checkOidcTogether(e: OidcEnv, problem: (message: string, variable?: string) => void): void {
  const issuer = e.SRVUTIL_OIDC_ISSUER;
  const lists = [e.SRVUTIL_OIDC_ADMIN_VALUES, e.SRVUTIL_OIDC_VIEWER_VALUES, e.SRVUTIL_OIDC_GROUP_VIEWERS];
  // A list that failed its own form is not an array here; it is reported already.
  const mapped = lists.every(Array.isArray) ? lists.reduce((n, l) => n + l.length, 0) : null;
  if (Array.isArray(e.SRVUTIL_OIDC_SCOPES) && !e.SRVUTIL_OIDC_SCOPES.includes("openid")) {
    problem("must include openid", "SRVUTIL_OIDC_SCOPES");
  }
  if (issuer === undefined) {
    const without = [
      "SRVUTIL_OIDC_CLIENT_ID",
      "SRVUTIL_OIDC_CLIENT_SECRET",
      "SRVUTIL_OIDC_PROVIDER_NAME",
      "SRVUTIL_OIDC_ADMIN_VALUES",
      "SRVUTIL_OIDC_VIEWER_VALUES",
      "SRVUTIL_OIDC_GROUP_VIEWERS",
    ] as const;
    for (const name of without) {
      const v: unknown = e[name];
      if (v !== undefined && (!Array.isArray(v) || v.length > 0)) {
        problem("must not be set without SRVUTIL_OIDC_ISSUER", name);
      }
    }
    if (e.SRVUTIL_LOCAL_LOGIN === "off") {
      problem("can be off only when SRVUTIL_OIDC_ISSUER is set: nobody could sign in", "SRVUTIL_LOCAL_LOGIN");
    }
    return;
  }
  if (e.SRVUTIL_OIDC_CLIENT_ID === undefined) {
    problem("must be set with SRVUTIL_OIDC_ISSUER", "SRVUTIL_OIDC_CLIENT_ID");
  }
  if (e.SRVUTIL_PUBLIC_URL === undefined) {
    problem(
      "must be set with SRVUTIL_OIDC_ISSUER: the redirect URI is <SRVUTIL_PUBLIC_URL>/auth/oidc/callback",
      "SRVUTIL_PUBLIC_URL",
    );
  }
  if (mapped === 0) {
    problem(
      "SRVUTIL_OIDC_ISSUER is set but no claim value maps to a role: set SRVUTIL_OIDC_ADMIN_VALUES, SRVUTIL_OIDC_VIEWER_VALUES or SRVUTIL_OIDC_GROUP_VIEWERS",
    );
  }
  // Plain http only for a provider on this machine (a test or a local Keycloak): tokens and codes travel in clear otherwise.
  if (typeof issuer === "string" && issuer.startsWith("http:") && !loopbackHost(new URL(issuer).hostname)) {
    problem("must be https:// (plain http only for a provider on loopback)", "SRVUTIL_OIDC_ISSUER");
  }
}

export const loopbackHost = (host: string): boolean =>
  host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);

/** Sign-in with OpenID Connect, as the dashboard reads it; null when SRVUTIL_OIDC_ISSUER is unset. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  /** null: a public client (PKCE only). Never logged. */
  clientSecret: string | null;
  scopes: string[];
  /** The claim (or dotted path) whose values map to roles. */
  roleClaim: string;
  adminValues: string[];
  viewerValues: string[];
  groupViewers: { value: string; groups: string[] }[];
  /** Shown on the button: "Sign in with <providerName>". */
  providerName: string;
  /** Every request to the provider (discovery, token, userinfo) gives up after this long. */
  timeoutMs: number;
}

export function oidcSettings(e: OidcEnv): OidcSettings | null {
  if (e.SRVUTIL_OIDC_ISSUER === undefined || e.SRVUTIL_OIDC_CLIENT_ID === undefined) return null;
  return {
    issuer: e.SRVUTIL_OIDC_ISSUER,
    clientId: e.SRVUTIL_OIDC_CLIENT_ID,
    clientSecret: e.SRVUTIL_OIDC_CLIENT_SECRET ?? null,
    scopes: e.SRVUTIL_OIDC_SCOPES,
    roleClaim: e.SRVUTIL_OIDC_ROLE_CLAIM,
    adminValues: e.SRVUTIL_OIDC_ADMIN_VALUES,
    viewerValues: e.SRVUTIL_OIDC_VIEWER_VALUES,
    groupViewers: e.SRVUTIL_OIDC_GROUP_VIEWERS,
    providerName: e.SRVUTIL_OIDC_PROVIDER_NAME ?? new URL(e.SRVUTIL_OIDC_ISSUER).hostname,
    timeoutMs: e.SRVUTIL_OIDC_TIMEOUT_SECONDS * 1000,
  };
}
