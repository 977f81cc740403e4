/**
 * Per-token token bucket: each token may make `burst` requests at once and
 * `perSecond` more every second after that. In memory: a restart forgets the
 * buckets, which only ever lets a client through sooner.
 */
export interface RateLimitOptions {
  perSecond: number;
  burst: number;
  /** Injectable clock for tests, ms. */
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Buckets kept before idle (full) ones are dropped, so memory stays bounded. */
const MAX_BUCKETS = 100_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.perSecond > 0;
  }

  take(key: string): RateDecision {
    if (!this.enabled) return { allowed: true };
    const { perSecond, burst } = this.options;
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.dropFullBuckets(now);
      bucket = { tokens: burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) };
  }

  private dropFullBuckets(now: number): void {
    const { perSecond, burst } = this.options;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) this.buckets.delete(key);
    }
    // Still full of active clients: forget the oldest rather than grow without bound.
    if (this.buckets.size >= MAX_BUCKETS) {
      const first = this.buckets.keys().next();
      if (!first.done) this.buckets.delete(first.value);
    }
  }
}

/** Reads SRVUTIL_RATE_LIMIT_PER_SECOND (default 5, 0 disables) and SRVUTIL_RATE_LIMIT_BURST (default 60). */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv): RateLimitOptions {
  const perSecond = envNumber(env, "SRVUTIL_RATE_LIMIT_PER_SECOND", 5);
  const burst = envNumber(env, "SRVUTIL_RATE_LIMIT_BURST", 60);
  if (perSecond > 0 && burst < 1) {
    throw new RateLimitConfigError("SRVUTIL_RATE_LIMIT_BURST: must be at least 1");
  }
  return { perSecond, burst };
}

export class RateLimitConfigError extends Error {
  override readonly name = "RateLimitConfigError";
}

function envNumber(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) {
    throw new RateLimitConfigError(`${key}: expected a number ≥ 0, got '${raw}'`);
  }
  return v;
}
