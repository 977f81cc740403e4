import type { Principal } from "../auth/principal.js";
import type { OidcSettings } from "../oidc-config.js";

/**
 * What a signed-in provider account may do: the principal every access
 * decision takes (accessScope), a role and for a viewer limited to some
 * delivery groups their names (null: the whole fleet). The one place claims
 * become access.
 */
export type MappedPrincipal = Principal & { groups: string[] | null };

/**
 * The claim's values: a string, a list of strings, or a path into nested
 * objects (`realm_access.roles` for Keycloak). Anything else gives none.
 */
export function claimValues(claims: Readonly<Record<string, unknown>>, path: string): string[] {
  let at: unknown = claims;
  for (const part of path.split(".")) {
    if (typeof at !== "object" || at === null || Array.isArray(at)) return [];
    at = (at as Record<string, unknown>)[part];
  }
  if (typeof at === "string") return [at];
  if (Array.isArray(at)) return at.filter((v): v is string => typeof v === "string");
  return [];
}

/**
 * The most the claim's values grant: admin over viewer over scoped viewer;
 * several scoped mappings add their groups up. null: no value is mapped,
 * and the account is refused.
 */
export function mapClaimsToPrincipal(
  claims: Readonly<Record<string, unknown>>,
  settings: Pick<OidcSettings, "roleClaim" | "adminValues" | "viewerValues" | "groupViewers">,
): MappedPrincipal | null {
  const values = new Set(claimValues(claims, settings.roleClaim));
  if (settings.adminValues.some((v) => values.has(v))) return { role: "admin", groups: null };
  if (settings.viewerValues.some((v) => values.has(v))) return { role: "viewer", groups: null };
  const groups = new Set<string>();
  for (const m of settings.groupViewers) if (values.has(m.value)) for (const g of m.groups) groups.add(g);
  if (groups.size > 0) return { role: "viewer", groups: [...groups].sort() };
  return null;
}

/** The name a session shows for the account: preferred_username, email, name, else the subject. */
export function displayName(claims: Readonly<Record<string, unknown>>): string {
  for (const key of ["preferred_username", "email", "name", "sub"]) {
    const v = claims[key];
    if (typeof v === "string" && v.trim() !== "") return v.trim().slice(0, 128);
  }
  return "unknown";
}
