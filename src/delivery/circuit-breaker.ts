import type { Redis } from 'ioredis';
import { type Clock, systemClock } from '../shared/time.ts';

export interface CircuitState {
  provider: string;
  state: 'closed' | 'open';
  since?: Date;
  reason?: string;
  consecutiveFailures: number;
}

export interface CircuitOptions {
  prefix: string;
  /** Open after this many transient failures in a row. */
  consecutiveFailures: number;
  /** ...or when failures / calls in the window reach this ratio, */
  failureRatio: number;
  /** ...counted only once the window holds at least this many calls. */
  minRequests: number;
  windowMs: number;
  clock?: Clock;
}

const BUCKETS = 10;

/**
 * Records a failure and opens the circuit when a rule trips, atomically: with many workers failing
 * at once exactly one caller sees the transition (returns 1), so one swap is recorded and alerted.
 * KEYS: state hash, consecutive counter, window hash. ARGV: now, bucket, oldest bucket kept,
 * threshold, ratio, min requests, reason, ttl seconds.
 */
const RECORD_FAILURE = `
local state = KEYS[1]
local consecutive = redis.call('INCR', KEYS[2])
redis.call('HINCRBY', KEYS[3], 'f:' .. ARGV[2], 1)
redis.call('HINCRBY', KEYS[3], 'c:' .. ARGV[2], 1)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[8]))
local calls, failures = 0, 0
local entries = redis.call('HGETALL', KEYS[3])
for i = 1, #entries, 2 do
  local field, value = entries[i], tonumber(entries[i + 1])
  local bucket = tonumber(string.sub(field, 3))
  if bucket < tonumber(ARGV[3]) then
    redis.call('HDEL', KEYS[3], field)
  elseif string.sub(field, 1, 1) == 'c' then
    calls = calls + value
  else
    failures = failures + value
  end
end
if redis.call('HGET', state, 'state') == 'open' then return {0, consecutive} end
local trip = consecutive >= tonumber(ARGV[4])
  or (calls >= tonumber(ARGV[6]) and failures / calls >= tonumber(ARGV[5]))
if trip then
  redis.call('HSET', state, 'state', 'open', 'since', ARGV[1], 'reason', ARGV[7])
  return {1, consecutive}
end
return {0, consecutive}
`;

/**
 * A circuit breaker per email provider whose state lives in Redis, so every worker process swaps
 * at the same moment. There is no half-open state: a scheduled probe closes an open circuit
 * (FailoverEmailProvider.probeOpenProviders), so real traffic never tests a provider still down.
 */
export class CircuitBreaker {
  private readonly clock: Clock;
  private readonly bucketMs: number;
  /** Successes not yet written to Redis, per provider (see recordSuccess). */
  private readonly pendingSuccesses = new Map<string, number>();
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly options: CircuitOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.bucketMs = Math.max(1, Math.floor(options.windowMs / BUCKETS));
  }

  private keys(provider: string) {
    const base = `${this.options.prefix}:circuit:${provider}`;
    return { state: `${base}:state`, consecutive: `${base}:consecutive`, window: `${base}:window` };
  }

  async state(provider: string): Promise<CircuitState> {
    await this.flush(provider);
    const keys = this.keys(provider);
    const [[, state], [, consecutive]] = ((await this.redis
      .multi()
      .hgetall(keys.state)
      .get(keys.consecutive)
      .exec()) ?? []) as [[unknown, Record<string, string>], [unknown, string | null]];
    return {
      provider,
      state: state?.state === 'open' ? 'open' : 'closed',
      since: state?.since ? new Date(Number(state.since)) : undefined,
      reason: state?.reason,
      consecutiveFailures: Number(consecutive ?? 0),
    };
  }

  states(providers: string[]): Promise<CircuitState[]> {
    return Promise.all(providers.map((p) => this.state(p)));
  }

  /**
   * Successes are the hot path (one per message sent), so they are counted locally and written
   * in one round trip every 200 ms, or before the next failure of that provider is judged.
   */
  async recordSuccess(provider: string): Promise<void> {
    this.pendingSuccesses.set(provider, (this.pendingSuccesses.get(provider) ?? 0) + 1);
    this.flushTimer ??= setTimeout(() => {
      this.flush().catch(() => undefined);
    }, 200).unref();
  }

  /** Writes pending successes: resets the consecutive-failure count and counts the calls. */
  async flush(only?: string): Promise<void> {
    const providers = only ? [only] : [...this.pendingSuccesses.keys()];
    if (!only) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const bucket = Math.floor(this.clock.now().getTime() / this.bucketMs);
    const multi = this.redis.multi();
    let writes = 0;
    for (const provider of providers) {
      const count = this.pendingSuccesses.get(provider) ?? 0;
      if (count === 0) continue;
      this.pendingSuccesses.delete(provider);
      const keys = this.keys(provider);
      multi
        .set(keys.consecutive, 0)
        .hincrby(keys.window, `c:${bucket}`, count)
        .expire(keys.window, Math.ceil((this.options.windowMs * 2) / 1000));
      writes++;
    }
    if (writes > 0) await multi.exec();
  }

  async recordFailure(provider: string, reason: string): Promise<{ opened: boolean; state: CircuitState }> {
    await this.flush(provider);
    const keys = this.keys(provider);
    const now = this.clock.now().getTime();
    const bucket = Math.floor(now / this.bucketMs);
    const result = (await this.redis.eval(
      RECORD_FAILURE,
      3,
      keys.state,
      keys.consecutive,
      keys.window,
      String(now),
      String(bucket),
      String(bucket - BUCKETS + 1),
      String(this.options.consecutiveFailures),
      String(this.options.failureRatio),
      String(this.options.minRequests),
      reason.slice(0, 500),
      String(Math.ceil((this.options.windowMs * 2) / 1000)),
    )) as [number, number];
    return { opened: result[0] === 1, state: await this.state(provider) };
  }

  /** Opens by hand (e.g. an operator swapping away). True only if it was closed. */
  async open(provider: string, reason: string): Promise<boolean> {
    const keys = this.keys(provider);
    const now = String(this.clock.now().getTime());
    const changed = await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'state') == 'open' then return 0 end
       redis.call('HSET', KEYS[1], 'state', 'open', 'since', ARGV[1], 'reason', ARGV[2]) return 1`,
      1,
      keys.state,
      now,
      reason.slice(0, 500),
    );
    return changed === 1;
  }

  /** Closes and resets the counters. True only if it was open. */
  async close(provider: string, _reason: string): Promise<boolean> {
    const keys = this.keys(provider);
    const changed = await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
       redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) return 1`,
      3,
      keys.state,
      keys.consecutive,
      keys.window,
    );
    return changed === 1;
  }
}
