import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Redis } from "ioredis";
import { AppError, type RateLimitInfo } from "../errors.ts";

export interface Policy {
  /** Names the budget in RateLimit-Policy. */
  name: string;
  points: number;
  windowSeconds: number;
}

const perMinute = (name: string, points: number): Policy => ({ name, points, windowSeconds: 60 });

/** Documented budgets. Quickchat counts per token per endpoint; Quincer per developer key. */
export const POLICIES = {
  quickchatRead: perMinute("read", 120),
  quickchatWrite: perMinute("write", 60),
  quickchatHeavy: perMinute("heavy", 20),
  developerRead: perMinute("developer-read", 100),
  developerWrite: perMinute("developer-write", 30),
  /** Callers with no credential (GraphQL's public fields), per client address. */
  anonymous: perMinute("anonymous", 120),
} as const;

/** The site-key chat API's per-route limits, counted per key and visitor address. */
export const siteKeyPolicy = (route: string, points: number): Policy => perMinute(`site-${route}`, points);

export type LimiterFactory = (policy: Policy) => RateLimiterAbstract;
const memoryLimiter: LimiterFactory = (p) =>
  new RateLimiterMemory({ points: p.points, duration: p.windowSeconds, keyPrefix: p.name });

/**
 * Counters in Redis, shared by every instance (REDIS_URL). While Redis is unreachable each instance
 * counts in its own memory with the same budget (the insurance limiter), so limits still hold, per
 * instance; `rejectIfRedisNotReady` skips Redis at once then instead of trying each request. Keys
 * live under parley:rl: and name the whole budget, as RateLimits tells limiters apart.
 */
export const sharedLimiters =
  (client: Redis): LimiterFactory =>
  (p) =>
    new RateLimiterRedis({
      storeClient: client,
      // ioredis, not node-redis (the library tells them apart by this flag).
      useRedisPackage: false,
      rejectIfRedisNotReady: true,
      points: p.points,
      duration: p.windowSeconds,
      keyPrefix: `parley:rl:${p.name}:${p.points}:${p.windowSeconds}`,
      insuranceLimiter: memoryLimiter(p),
    });

/**
 * Rate limits shared by every transport. The store is pluggable: memory in one process, a shared
 * store (Redis) when several instances run.
 */
export class RateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  constructor(private readonly factory: LimiterFactory = memoryLimiter) {}

  private limiter(policy: Policy): RateLimiterAbstract {
    const id = `${policy.name}:${policy.points}:${policy.windowSeconds}`;
    let l = this.limiters.get(id);
    if (!l) this.limiters.set(id, (l = this.factory(policy)));
    return l;
  }

  /**
   * Spends one request of `key`'s budget. Resolves with the budget left; throws
   * TOO_MANY_REQUESTS (with the same information) when it is spent.
   */
  async consume(
    policy: Policy,
    key: string,
    message: (info: RateLimitInfo) => string = defaultMessage,
  ): Promise<RateLimitInfo> {
    const info = (res: RateLimiterRes): RateLimitInfo => ({
      limit: policy.points,
      remaining: Math.max(0, res.remainingPoints),
      resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
      windowSeconds: policy.windowSeconds,
      policy: policy.name,
    });
    try {
      return info(await this.limiter(policy).consume(key));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const i = info(err);
      throw new AppError("TOO_MANY_REQUESTS", message(i), { rateLimit: i });
    }
  }
}

const defaultMessage = (i: RateLimitInfo) =>
  `Rate limit exceeded: ${i.limit} requests per ${i.windowSeconds} s; ${i.remaining} remaining; retry in ${i.resetSeconds} s`;

export const developerLimitMessage = (kind: "read" | "write") => (i: RateLimitInfo) =>
  `Rate limit exceeded: ${i.remaining} of ${i.limit} ${kind} requests remaining this minute; retry in ${i.resetSeconds} s`;
