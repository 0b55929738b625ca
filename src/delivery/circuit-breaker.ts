import type { Redis } from 'ioredis';
import { type Clock, systemClock } from '../shared/time.ts';

export type CircuitPosition = 'closed' | 'open' | 'half_open';

export interface CircuitState {
  provider: string;
  state: CircuitPosition;
  since?: Date;
  reason?: string;
  consecutiveFailures: number;
  /** While open: when the next probe may try to move it to half-open. */
  retryAt?: Date;
  /** Half-open trials that failed since it last opened from closed (each doubles the wait). */
  failedTrials: number;
}

export interface CircuitOptions {
  prefix: string;
  /** Open after this many transient failures in a row, */
  consecutiveFailures: number;
  /** ...or when failures / calls in the window reach this ratio, */
  failureRatio: number;
  /** ...counted only once the window holds at least this many calls. */
  minRequests: number;
  windowMs: number;
  /** Half-open lets this many trial calls through; that many successes close it, one failure re-opens it. */
  halfOpenTrials: number;
  /** How long an open circuit waits before a probe may half-open it; doubled after each failed trial, */
  reopenBackoffMs: number;
  /** ...up to this. */
  reopenBackoffMaxMs: number;
  /** A trial slot whose caller never reported back (it died) is given to another caller after this. */
  trialTimeoutMs?: number;
  clock?: Clock;
}

const BUCKETS = 10;

/**
 * Records a failure and opens the circuit when a rule trips, atomically: with many workers failing
 * at once exactly one caller sees the transition (returns 1), so one swap is recorded and alerted.
 * A failure while half-open re-opens at once, with the wait before the next probe doubled.
 * KEYS: state hash, consecutive counter, window hash. ARGV: now, bucket, oldest bucket kept,
 * threshold, ratio, min requests, reason, ttl seconds, backoff base ms, backoff max ms.
 */
const RECORD_FAILURE = `
local state = KEYS[1]
local now = tonumber(ARGV[1])
local position = redis.call('HGET', state, 'state')
if position == 'half_open' then
  local failed = tonumber(redis.call('HGET', state, 'failed_trials') or '0') + 1
  local wait = math.min(tonumber(ARGV[9]) * (2 ^ failed), tonumber(ARGV[10]))
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', state, 'state', 'open', 'since', ARGV[1], 'reason', ARGV[7],
    'failed_trials', failed, 'retry_at', now + wait, 'trials', 0, 'trial_successes', 0)
  return {1, 0}
end
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
if position == 'open' then return {0, consecutive} end
local trip = consecutive >= tonumber(ARGV[4])
  or (calls >= tonumber(ARGV[6]) and failures / calls >= tonumber(ARGV[5]))
if trip then
  redis.call('HSET', state, 'state', 'open', 'since', ARGV[1], 'reason', ARGV[7],
    'failed_trials', 0, 'retry_at', now + tonumber(ARGV[9]))
  return {1, consecutive}
end
return {0, consecutive}
`;

/**
 * Asks for a call slot. Returns 1 when closed (call freely), 2 when half-open and a trial slot was
 * granted, 0 when the caller must not call (open, or every trial slot taken).
 * KEYS: state hash. ARGV: now, trials, trial timeout ms.
 */
const ACQUIRE = `
local position = redis.call('HGET', KEYS[1], 'state')
if position == 'open' then return 0 end
if position ~= 'half_open' then return 1 end
local now = tonumber(ARGV[1])
local started = tonumber(redis.call('HGET', KEYS[1], 'trials') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'trial_at') or '0')
if started >= tonumber(ARGV[2]) then
  if now - last < tonumber(ARGV[3]) then return 0 end
  started = tonumber(redis.call('HGET', KEYS[1], 'trial_successes') or '0')
end
redis.call('HSET', KEYS[1], 'trials', started + 1, 'trial_at', now)
return 2
`;

/**
 * A half-open trial succeeded; the last needed success closes the circuit (returns 1, once).
 * KEYS: state hash, consecutive counter, window hash. ARGV: trials.
 */
const TRIAL_SUCCESS = `
if redis.call('HGET', KEYS[1], 'state') ~= 'half_open' then return 0 end
local successes = redis.call('HINCRBY', KEYS[1], 'trial_successes', 1)
if successes < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
`;

/**
 * A circuit breaker per named dependency (an email provider today, the mailouts send API next)
 * whose state lives in Redis, so every worker process swaps at the same moment.
 *
 * closed -> open: a failure rule trips (recordFailure). open -> half_open: once `retryAt` has
 * passed, a caller's probe succeeded (probeDue + halfOpen). half_open -> closed: `halfOpenTrials`
 * real calls succeeded (acquire grants at most that many at a time). half_open -> open: any trial
 * failed; the next probe then waits twice as long (reopenBackoffMs doubling up to
 * reopenBackoffMaxMs), so a dependency that passes probes but fails real traffic is tried ever
 * more rarely instead of flapping.
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
    const position: CircuitPosition =
      state?.state === 'open' || state?.state === 'half_open' ? state.state : 'closed';
    return {
      provider,
      state: position,
      since: state?.since ? new Date(Number(state.since)) : undefined,
      reason: state?.reason,
      consecutiveFailures: Number(consecutive ?? 0),
      retryAt: position === 'open' && state?.retry_at ? new Date(Number(state.retry_at)) : undefined,
      failedTrials: Number(state?.failed_trials ?? 0),
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
      String(this.options.reopenBackoffMs),
      String(this.options.reopenBackoffMaxMs),
    )) as [number, number];
    return { opened: result[0] === 1, state: await this.state(provider) };
  }

  /**
   * Whether the caller may call now: `call` when closed, `trial` when half-open and one of the
   * trial slots is now the caller's (report it with recordTrialSuccess or recordFailure), `skip`
   * when open or every trial slot is taken.
   */
  async acquire(provider: string): Promise<'call' | 'trial' | 'skip'> {
    const granted = await this.redis.eval(
      ACQUIRE,
      1,
      this.keys(provider).state,
      String(this.clock.now().getTime()),
      String(this.options.halfOpenTrials),
      String(this.options.trialTimeoutMs ?? 60_000),
    );
    return granted === 2 ? 'trial' : granted === 1 ? 'call' : 'skip';
  }

  /** A half-open trial succeeded. True only for the success that closed the circuit. */
  async recordTrialSuccess(provider: string): Promise<boolean> {
    const keys = this.keys(provider);
    const closed = await this.redis.eval(
      TRIAL_SUCCESS,
      3,
      keys.state,
      keys.consecutive,
      keys.window,
      String(this.options.halfOpenTrials),
    );
    return closed === 1;
  }

  /** Open and its wait has passed: a probe may now try to half-open it. */
  async probeDue(provider: string): Promise<boolean> {
    const state = await this.state(provider);
    return state.state === 'open' && (state.retryAt?.getTime() ?? 0) <= this.clock.now().getTime();
  }

  /** After a successful probe: open -> half-open with fresh trial slots. True only if it was open. */
  async halfOpen(provider: string): Promise<boolean> {
    const changed = await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
       redis.call('HSET', KEYS[1], 'state', 'half_open', 'trials', 0, 'trial_successes', 0, 'trial_at', 0)
       return 1`,
      1,
      this.keys(provider).state,
    );
    return changed === 1;
  }

  /** A probe failed: stay open and wait the current interval (not doubled: only trials double it). */
  async probeFailed(provider: string): Promise<void> {
    await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
       local failed = tonumber(redis.call('HGET', KEYS[1], 'failed_trials') or '0')
       local wait = math.min(tonumber(ARGV[2]) * (2 ^ failed), tonumber(ARGV[3]))
       redis.call('HSET', KEYS[1], 'retry_at', tonumber(ARGV[1]) + wait) return 1`,
      1,
      this.keys(provider).state,
      String(this.clock.now().getTime()),
      String(this.options.reopenBackoffMs),
      String(this.options.reopenBackoffMaxMs),
    );
  }

  /** Opens by hand (e.g. an operator swapping away). True only if it was not open already. */
  async open(provider: string, reason: string): Promise<boolean> {
    const keys = this.keys(provider);
    const now = this.clock.now().getTime();
    const changed = await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'state') == 'open' then return 0 end
       redis.call('HSET', KEYS[1], 'state', 'open', 'since', ARGV[1], 'reason', ARGV[2],
         'failed_trials', 0, 'retry_at', ARGV[3], 'trials', 0, 'trial_successes', 0) return 1`,
      1,
      keys.state,
      String(now),
      reason.slice(0, 500),
      String(now + this.options.reopenBackoffMs),
    );
    return changed === 1;
  }

  /** Closes (from open or half-open) and resets the counters. True only if it was not closed. */
  async close(provider: string, _reason: string): Promise<boolean> {
    const keys = this.keys(provider);
    const changed = await this.redis.eval(
      `local position = redis.call('HGET', KEYS[1], 'state')
       if position ~= 'open' and position ~= 'half_open' then return 0 end
       redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) return 1`,
      3,
      keys.state,
      keys.consecutive,
      keys.window,
    );
    return changed === 1;
  }
}
