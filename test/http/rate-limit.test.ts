import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSlidingWindow, SlidingWindowLimiter } from '../../src/http/rate-limit.ts';
import { type PrivateRedis, startPrivateRedis } from '../helpers/redis-server.ts';
import { uniqueName } from '../helpers/service.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sliding-window limit in Redis', () => {
  let redis: Redis;
  let limiter: SlidingWindowLimiter;
  const fallbacks: string[] = [];
  beforeAll(async () => {
    redis = new Redis('redis://127.0.0.1:6379');
    // Until the connection is ready the limiter decides locally (tested below).
    await redis.ping();
    limiter = new SlidingWindowLimiter({
      redis,
      prefix: uniqueName('rl'),
      timeoutMs: 2_000,
      onFallback: (error) => fallbacks.push(error.message),
    });
  });
  afterAll(async () => {
    const keys = await redis.keys(
      `${(limiter as unknown as { options: { prefix: string } }).options.prefix}:*`,
    );
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('when a key sends more than max in one window, then the extra ones are rejected with the wait until a slot frees', async () => {
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await limiter.hit('key:a', 2_000, 5));
    expect(results.map((r) => r.current)).toEqual([1, 2, 3, 4, 5, 6]);
    const rejected = results[5];
    expect(rejected?.ttl).toBeGreaterThan(0);
    expect(rejected?.ttl).toBeLessThanOrEqual(2_000);
    // Another key has its own budget.
    expect((await limiter.hit('key:b', 2_000, 5)).current).toBe(1);
    expect(fallbacks).toEqual([]);
  });

  it('when a burst filled the window, then half a window later it is still full (no fixed-window boundary lets a second burst through)', async () => {
    for (let i = 0; i < 10; i++) expect((await limiter.hit('key:burst', 2_000, 10)).current).toBe(i + 1);
    await sleep(1_000);
    const later = await Promise.all(Array.from({ length: 10 }, () => limiter.hit('key:burst', 2_000, 10)));
    expect(later.every((r) => r.current > 10)).toBe(true);
    await sleep(1_200);
    // The burst has left the window: a full budget again, and the rejections were not counted.
    const after = await Promise.all(Array.from({ length: 11 }, () => limiter.hit('key:burst', 2_000, 10)));
    expect(after.filter((r) => r.current <= 10)).toHaveLength(10);
  });

  it('when hits on several keys arrive together (one script call), then each key is decided in order against its own budget', async () => {
    const results = await Promise.all([
      limiter.hit('key:mix-a', 2_000, 2),
      limiter.hit('key:mix-b', 2_000, 1),
      limiter.hit('key:mix-a', 2_000, 2),
      limiter.hit('key:mix-a', 2_000, 2),
      limiter.hit('key:mix-b', 2_000, 1),
      limiter.hit('key:mix-c', 2_000, 5, false),
    ]);
    expect(results.map((r) => r.current)).toEqual([1, 1, 2, 3, 2, 0]);
    expect(results[3]?.ttl).toBeGreaterThan(0);
    expect(fallbacks).toEqual([]);
  });

  it('when only reading, then nothing is counted', async () => {
    for (let i = 0; i < 3; i++) await limiter.hit('key:read', 2_000, 3, false);
    expect((await limiter.hit('key:read', 2_000, 3)).current).toBe(1);
  });
});

describe('when Redis is unavailable', () => {
  let own: PrivateRedis;
  beforeAll(async () => {
    own = await startPrivateRedis();
  });
  afterAll(async () => {
    await own.close();
  });

  it('when the connection is down, then the limit is kept locally without waiting on Redis', async () => {
    const redis = new Redis(own.url, { lazyConnect: true });
    const limiter = new SlidingWindowLimiter({ redis, prefix: 'down', timeoutMs: 250 });
    // Never connected: status "wait".
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.hit('addr:10.0.0.1', 60_000, 3));
    expect(results.map((r) => r.current <= 3)).toEqual([true, true, true, false]);
    expect(results[3]?.ttl).toBeGreaterThan(0);
    redis.disconnect();
  });

  it('when Redis does not answer in time, then the request is decided locally and the fallback is reported', async () => {
    const redis = new Redis(own.url);
    const admin = new Redis(own.url);
    const fallbacks: string[] = [];
    const limiter = new SlidingWindowLimiter({
      redis,
      prefix: 'slow',
      timeoutMs: 250,
      onFallback: (error) => fallbacks.push(error.message),
    });
    try {
      await Promise.all([redis.ping(), admin.ping()]);
      expect((await limiter.hit('key:x', 60_000, 2)).current).toBe(1);
      expect((await limiter.hit('key:x', 60_000, 2)).current).toBe(2);
      await admin.client('PAUSE', 1_500, 'ALL');
      // Redis already holds two for this key; the local limit has seen none.
      const slow = await limiter.hit('key:x', 60_000, 2);
      expect(slow.current).toBe(1);
      expect(fallbacks).toEqual(['Redis did not answer within 250 ms']);
    } finally {
      await sleep(1_500);
      await Promise.all([redis.quit(), admin.quit()]);
    }
  });
});

describe('local sliding window', () => {
  it('when a burst ends just before a window boundary, then the next window starts nearly full', () => {
    const local = new LocalSlidingWindow();
    const t0 = 60_000 * 1_000;
    for (let i = 0; i < 100; i++)
      expect(local.hit('k', 60_000, 100, true, t0 + 59_000).current).toBeLessThanOrEqual(100);
    // One second into the next window, 59/60 of the burst still counts: room for one more.
    const next = Array.from({ length: 5 }, () => local.hit('k', 60_000, 100, true, t0 + 61_000));
    expect(next.map((r) => r.current <= 100)).toEqual([true, false, false, false, false]);
    expect(next[1]?.ttl).toBeGreaterThan(0);
    // Halfway through, half of the burst still counts (plus the one let through).
    let allowed = 0;
    for (let i = 0; i < 100; i++)
      if (local.hit('k', 60_000, 100, true, t0 + 90_000).current <= 100) allowed++;
    expect(allowed).toBe(49);
  });

  it('when more keys than the cap are seen, then the least recently used are forgotten', () => {
    const local = new LocalSlidingWindow(2);
    local.hit('a', 60_000, 1, true, 0);
    local.hit('b', 60_000, 1, true, 0);
    local.hit('c', 60_000, 1, true, 0);
    expect(local.hit('a', 60_000, 1, true, 1).current).toBe(1);
    expect(local.hit('c', 60_000, 1, true, 1).current).toBe(2);
  });
});
