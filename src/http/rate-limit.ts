import { randomBytes } from 'node:crypto';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { MicroBatcher } from '../shared/micro-batcher.ts';

/** What a rate-limit store answers: `current` over the limit means rejected, `ttl` is in ms. */
export interface LimitResult {
  current: number;
  ttl: number;
}

/**
 * Sliding-window log: one sorted set per key holding the time of each request let through in
 * the last window, so at most `max` requests pass in ANY window-long span (a fixed window lets
 * twice that through across a boundary). Rejected requests are not recorded, so a client that
 * keeps hammering gets a slot back as soon as its oldest request leaves the window. Times come
 * from Redis (TIME), the same clock for every web process.
 * One call decides a batch of hits, in order (the same key may come more than once): KEYS[i] is
 * hit i's key; ARGV[4i-3..4i] its window ms, max, unique member, 1 = count it / 0 = only look.
 * Returns {count, ms} per hit, flattened: count <= max allowed (ms until the oldest request leaves
 * the window), count = max + 1 rejected (ms until a slot frees: the Retry-After).
 */
const SLIDING_WINDOW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local window = tonumber(ARGV[4 * i - 3])
  local max = tonumber(ARGV[4 * i - 2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= max then
    local slot = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
    local wait = window
    if slot[2] then wait = tonumber(slot[2]) + window - now end
    out[#out + 1] = max + 1
    out[#out + 1] = math.max(1, wait)
  else
    if ARGV[4 * i] == '1' then
      redis.call('ZADD', key, now, ARGV[4 * i - 1])
      redis.call('PEXPIRE', key, window)
      count = count + 1
    end
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local reset = 0
    if oldest[2] then reset = tonumber(oldest[2]) + window - now end
    out[#out + 1] = count
    out[#out + 1] = math.max(0, reset)
  end
end
return out
`;

/**
 * The script is defined under this name (a new name: the old single-hit script took other
 * arguments). The limiter batches its calls itself, so autopipelining skips it (see createRedis).
 */
export const RATE_LIMIT_COMMAND = 'brieflySlidingWindows';
const COMMAND = RATE_LIMIT_COMMAND;

type ScriptedRedis = Redis & {
  [COMMAND](keys: number, ...args: (string | number)[]): Promise<number[]>;
};

interface Hit {
  key: string;
  windowMs: number;
  max: number;
  increment: boolean;
}

/**
 * Local stand-in while Redis is unreachable: a sliding-window counter per key (this window's
 * count plus the previous window's, weighted by how much of it still overlaps), O(1) memory per
 * key and at most `maxKeys` keys (least recently used go first). Per process, so with N web
 * processes the effective limit is up to N times the configured one during a Redis outage.
 */
export class LocalSlidingWindow {
  private readonly entries = new Map<string, { start: number; previous: number; current: number }>();

  constructor(private readonly maxKeys = 10_000) {}

  hit(key: string, windowMs: number, max: number, increment: boolean, now = Date.now()): LimitResult {
    const start = Math.floor(now / windowMs) * windowMs;
    let entry = this.entries.get(key);
    if (!entry) entry = { start, previous: 0, current: 0 };
    else if (entry.start !== start) {
      entry.previous = start - entry.start === windowMs ? entry.current : 0;
      entry.current = 0;
      entry.start = start;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    const overlap = 1 - (now - start) / windowMs;
    const estimate = entry.previous * overlap + entry.current;
    if (estimate + 1 > max) {
      // When the previous window's weight has shrunk enough for one more request (or, if this
      // window alone is full, when it ends).
      const freeAt =
        entry.current + 1 > max || entry.previous === 0
          ? start + windowMs
          : start + windowMs * (1 - (max - 1 - entry.current) / entry.previous);
      return { current: max + 1, ttl: Math.max(1, Math.ceil(freeAt - now)) };
    }
    if (increment) entry.current++;
    return { current: Math.ceil(estimate) + (increment ? 1 : 0), ttl: start + windowMs - now };
  }
}

/**
 * The rate limiter behind every limit of the web role: the sliding-window log in Redis, shared by
 * all web processes, and the local limit when Redis is down or slow. A Redis outage must never
 * fail or stall a request (accepting mail depends on PostgreSQL only), so when the connection is
 * not ready Redis is not asked at all, and a call that takes longer than `timeoutMs` is decided
 * locally.
 */
export class SlidingWindowLimiter {
  private readonly local = new LocalSlidingWindow();
  private readonly memberPrefix = `${process.pid}-${randomBytes(4).toString('hex')}-`;
  private sequence = 0;

  constructor(
    private readonly options: {
      redis: Redis;
      prefix: string;
      timeoutMs: number;
      /** Called when a decision was made locally because Redis failed (not when it is simply down). */
      onFallback?: (error: Error) => void;
    },
  ) {
    if (!(COMMAND in options.redis)) options.redis.defineCommand(COMMAND, { lua: SLIDING_WINDOW_SCRIPT });
  }

  /**
   * Concurrent requests share one script call (one Redis round trip for the batch), the same
   * decisions as one call each: the script takes the hits in order. At most two calls are in
   * flight, so under load the requests arriving meanwhile share the next one (each call costs
   * Redis a Lua invocation, whatever its size).
   */
  private readonly batches = new MicroBatcher<Hit, LimitResult>(
    async (hits) => {
      const redis = this.options.redis as ScriptedRedis;
      const args: (string | number)[] = [hits.length];
      for (const hit of hits) args.push(`${this.options.prefix}:ratelimit:${hit.key}`);
      for (const hit of hits) {
        args.push(hit.windowMs, hit.max, `${this.memberPrefix}${++this.sequence}`, hit.increment ? '1' : '0');
      }
      const flat = await redis[COMMAND](...(args as [number, ...(string | number)[]]));
      return hits.map((_, index) => ({
        current: Number(flat[2 * index]),
        ttl: Number(flat[2 * index + 1]),
      }));
    },
    200,
    2,
  );

  async hit(key: string, windowMs: number, max: number, increment = true): Promise<LimitResult> {
    const redis = this.options.redis as ScriptedRedis;
    if (redis.status !== 'ready') return this.local.hit(key, windowMs, max, increment);
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = this.batches.add({ key, windowMs, max, increment });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Redis did not answer within ${this.options.timeoutMs} ms`)),
          this.options.timeoutMs,
        );
      });
      return await Promise.race([call, timeout]);
    } catch (error) {
      this.options.onFallback?.(error as Error);
      return this.local.hit(key, windowMs, max, increment);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A store class for @fastify/rate-limit (its `store` option) backed by this limiter. */
  store(): FastifyRateLimitStoreCtor {
    const limiter = this;
    class SlidingWindowStore implements FastifyRateLimitStore {
      incr(
        key: string,
        callback: (error: Error | null, result?: LimitResult) => void,
        windowMs: number,
        max: number,
      ) {
        limiter.hit(key, windowMs, max, true).then(
          (result) => callback(null, result),
          (error: Error) => callback(error),
        );
      }

      read(
        key: string,
        callback: (error: Error | null, result?: LimitResult) => void,
        windowMs: number,
        max: number,
      ) {
        limiter.hit(key, windowMs, max, false).then(
          (result) => callback(null, result),
          (error: Error) => callback(error),
        );
      }

      // Keys carry their own namespace (key:, addr:, hook:), so every route can share one store.
      child(): FastifyRateLimitStore {
        return this;
      }
    }
    return SlidingWindowStore;
  }
}
