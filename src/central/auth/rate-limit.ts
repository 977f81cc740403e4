/**
 * Token buckets by key (an agent token, a client address): each key may make
 * `burst` requests at once and `perSecond` more every second after that. In
 * memory: a restart forgets the buckets, which only ever lets a client
 * through sooner.
 */
export interface RateLimitOptions {
  /** SRVUTIL_RATE_LIMIT_PER_SECOND (0 disables) and SRVUTIL_RATE_LIMIT_BURST, see loadCentralConfig. */
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

  /** Spends one request of `key`'s bucket, or says how long until there is one. */
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

  /** Gives back what take() spent (the request turned out not to count). */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) bucket.tokens = Math.min(this.options.burst, bucket.tokens + 1);
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
