/**
 * The networks the seed bridge accepts uploads from when
 * SRVUTIL_SEED_COMPAT_NETWORKS is unset: this machine only. The seed agent
 * cannot authenticate, so where a request comes from is the only check
 * besides the enrolled server name (../../auth/networks.ts parses and matches).
 */
export const DEFAULT_SEED_NETWORKS = ["127.0.0.0/8", "::1/128"] as const;
