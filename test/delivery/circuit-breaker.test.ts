import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/delivery/circuit-breaker.ts';
import { type EmailProvider, type OutgoingEmail, ProviderError } from '../../src/delivery/email-provider.ts';
import { FailoverEmailProvider, type SwapEvent } from '../../src/delivery/failover.email-provider.ts';
import { uniqueName } from '../helpers/service.ts';

const prefix = uniqueName('briefly_test');
const a = new Redis('redis://127.0.0.1:6379');
const b = new Redis('redis://127.0.0.1:6379');
const options = {
  prefix,
  consecutiveFailures: 5,
  failureRatio: 0.5,
  minRequests: 20,
  windowMs: 60_000,
  halfOpenTrials: 3,
  reopenBackoffMs: 1_000,
  reopenBackoffMaxMs: 5_000,
};

afterAll(async () => {
  const keys = await a.keys(`${prefix}:*`);
  if (keys.length) await a.del(...keys);
  await a.quit();
  await b.quit();
});

let n = 0;
const provider = () => `p${++n}`;

describe('CircuitBreaker', () => {
  it('when N transient failures come in a row, then it opens once, and a second process sees it open', async () => {
    const breaker = new CircuitBreaker(a, options);
    const name = provider();
    const opened: boolean[] = [];
    for (let i = 0; i < 7; i++) opened.push((await breaker.recordFailure(name, `503 #${i}`)).opened);
    expect(opened).toEqual([false, false, false, false, true, false, false]);
    const seen = await new CircuitBreaker(b, options).state(name);
    expect(seen).toMatchObject({ state: 'open', reason: '503 #4' });
    expect(seen.since).toBeInstanceOf(Date);
  });

  it('when a success comes between failures, then the consecutive count starts again', async () => {
    const breaker = new CircuitBreaker(a, options);
    const name = provider();
    for (let i = 0; i < 4; i++) await breaker.recordFailure(name, 'x');
    await breaker.recordSuccess(name);
    for (let i = 0; i < 4; i++) expect((await breaker.recordFailure(name, 'x')).opened).toBe(false);
    expect((await breaker.state(name)).state).toBe('closed');
  });

  it('when failures alternate with successes, then the ratio rule opens it only once minRequests calls are in the window', async () => {
    const breaker = new CircuitBreaker(a, { ...options, consecutiveFailures: 100 });
    const name = provider();
    const opened: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      await breaker.recordSuccess(name);
      opened.push((await breaker.recordFailure(name, 'flaky')).opened);
    }
    expect(opened.indexOf(true)).toBe(9);
  });

  it('when 50 failures race from two connections, then exactly one caller sees the circuit open', async () => {
    const name = provider();
    const breakers = [new CircuitBreaker(a, options), new CircuitBreaker(b, options)];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => breakers[i % 2]?.recordFailure(name, 'outage')),
    );
    expect(results.filter((r) => r?.opened)).toHaveLength(1);
  });

  it('when closed by hand, then it reports the change once and counters restart', async () => {
    const breaker = new CircuitBreaker(a, options);
    const name = provider();
    expect(await breaker.open(name, 'maintenance')).toBe(true);
    expect(await breaker.open(name, 'again')).toBe(false);
    expect(await breaker.close(name, 'done')).toBe(true);
    expect(await breaker.close(name, 'done')).toBe(false);
    expect(await breaker.state(name)).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('when open, then a probe is due only after the re-open wait; a passing probe half-opens it and the configured number of trial successes close it', async () => {
    let now = 1_000_000;
    const clock = { now: () => new Date(now) };
    const breaker = new CircuitBreaker(a, { ...options, clock });
    const name = provider();
    expect(await breaker.open(name, 'outage')).toBe(true);
    expect(await breaker.probeDue(name)).toBe(false);
    now += 1_000;
    expect(await breaker.probeDue(name)).toBe(true);
    expect(await breaker.halfOpen(name)).toBe(true);
    expect(await breaker.halfOpen(name)).toBe(false);
    expect((await breaker.state(name)).state).toBe('half_open');

    // Three trial slots; a fourth caller is told to skip (go to the next provider).
    const slots = [];
    for (let i = 0; i < 4; i++) slots.push(await breaker.acquire(name));
    expect(slots).toEqual(['trial', 'trial', 'trial', 'skip']);
    expect(await breaker.recordTrialSuccess(name)).toBe(false);
    expect(await breaker.recordTrialSuccess(name)).toBe(false);
    expect(await breaker.recordTrialSuccess(name)).toBe(true);
    expect(await breaker.state(name)).toMatchObject({ state: 'closed', failedTrials: 0 });
    expect(await breaker.acquire(name)).toBe('call');
  });

  it('when a half-open trial fails, then it re-opens and the wait before the next probe doubles each time, up to the cap', async () => {
    let now = 5_000_000;
    const clock = { now: () => new Date(now) };
    const breaker = new CircuitBreaker(a, { ...options, clock });
    const name = provider();
    await breaker.open(name, 'outage');
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const open = await breaker.state(name);
      const wait = (open.retryAt?.getTime() ?? 0) - now;
      waits.push(wait);
      now += wait;
      expect(await breaker.probeDue(name)).toBe(true);
      await breaker.halfOpen(name);
      expect(await breaker.acquire(name)).toBe('trial');
      const { opened, state } = await breaker.recordFailure(name, `429 on trial ${i}`);
      expect(opened).toBe(true);
      expect(state).toMatchObject({ state: 'open', failedTrials: i + 1 });
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('when a probe fails, then the circuit stays open and waits the current interval again without doubling', async () => {
    let now = 9_000_000;
    const clock = { now: () => new Date(now) };
    const breaker = new CircuitBreaker(a, { ...options, clock });
    const name = provider();
    await breaker.open(name, 'outage');
    now += 1_000;
    await breaker.probeFailed(name);
    expect(await breaker.state(name)).toMatchObject({ state: 'open', failedTrials: 0 });
    expect((await breaker.state(name)).retryAt?.getTime()).toBe(now + 1_000);
    expect(await breaker.probeDue(name)).toBe(false);
  });

  it('when a trial holder never reports back, then its slot is given to another caller after the trial timeout', async () => {
    let now = 13_000_000;
    const clock = { now: () => new Date(now) };
    const breaker = new CircuitBreaker(a, { ...options, halfOpenTrials: 1, trialTimeoutMs: 10_000, clock });
    const name = provider();
    await breaker.open(name, 'outage');
    await breaker.halfOpen(name);
    expect(await breaker.acquire(name)).toBe('trial');
    expect(await breaker.acquire(name)).toBe('skip');
    now += 10_001;
    expect(await breaker.acquire(name)).toBe('trial');
  });
});

/** A fake vendor whose behaviour the test sets. */
class FakeProvider implements EmailProvider {
  calls = 0;
  mode: 'ok' | 'transient' | 'permanent' | 'unknown' = 'ok';
  probeOk = false;
  constructor(readonly name: string) {}
  async send() {
    this.calls++;
    if (this.mode === 'ok') return { provider: this.name, providerMessageId: `${this.name}-${this.calls}` };
    if (this.mode === 'unknown')
      throw new ProviderError(this.name, 'transient', `${this.name} timed out`, { unknownOutcome: true });
    throw new ProviderError(this.name, this.mode, `${this.name} ${this.mode}`);
  }
  async probe() {
    if (!this.probeOk) throw new ProviderError(this.name, 'transient', 'still down');
  }
  async close() {}
}

const email: OutgoingEmail = {
  messageId: 'm1',
  from: { email: 'a@acme.test' },
  to: [{ email: 'b@client.test' }],
  cc: [],
  bcc: [],
  subject: 's',
  text: 't',
  tags: [],
};

describe('FailoverEmailProvider', () => {
  function setup() {
    const primary = new FakeProvider(provider());
    const backup = new FakeProvider(provider());
    const swaps: SwapEvent[] = [];
    const durations: number[] = [];
    const failover = new FailoverEmailProvider(
      [primary, backup],
      new CircuitBreaker(a, { ...options, consecutiveFailures: 3, halfOpenTrials: 2, reopenBackoffMs: 10 }),
      {
        onSwap: (event) => {
          swaps.push(event);
        },
        onAttempt: (event) => durations.push(event.durationMs),
      },
      0,
    );
    return { primary, backup, swaps, durations, failover };
  }

  it('when the primary fails every call, then each send falls to the backup, the circuit opens once and later sends skip the primary', async () => {
    const { primary, backup, swaps, durations, failover } = setup();
    primary.mode = 'transient';
    for (let i = 0; i < 5; i++) expect((await failover.send(email)).provider).toBe(backup.name);
    expect(primary.calls).toBe(3);
    expect(swaps).toEqual([
      expect.objectContaining({ provider: primary.name, to: 'open', actor: 'circuit-breaker' }),
    ]);
    expect(durations.every((d) => d >= 0)).toBe(true);

    primary.mode = 'ok';
    await new Promise((resolve) => setTimeout(resolve, 20));
    await failover.probeOpenProviders();
    expect(swaps).toHaveLength(1);
    primary.probeOk = true;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await failover.probeOpenProviders()).toEqual([{ provider: primary.name, ok: true }]);
    expect((await failover.states())[0]?.state).toBe('half_open');
    expect(swaps).toHaveLength(1);
    // Two trial messages go to the primary and close it; the swap back is the breaker's doing.
    expect((await failover.send(email)).provider).toBe(primary.name);
    expect((await failover.send(email)).provider).toBe(primary.name);
    expect(swaps[1]).toMatchObject({ provider: primary.name, to: 'closed', actor: 'circuit-breaker' });
    expect((await failover.states())[0]?.state).toBe('closed');
  });

  it('when the primary is half-open and its trial slots are taken, then other sends go to the backup meanwhile', async () => {
    const { primary, backup, failover } = setup();
    primary.mode = 'transient';
    for (let i = 0; i < 3; i++) await failover.send(email);
    primary.mode = 'ok';
    primary.probeOk = true;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await failover.probeOpenProviders();
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    const originalSend = primary.send.bind(primary);
    primary.send = async () => {
      await slow;
      return originalSend();
    };
    const trials = [failover.send(email), failover.send(email)];
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = backup.calls;
    expect((await failover.send(email)).provider).toBe(backup.name);
    expect(backup.calls).toBe(before + 1);
    release();
    expect((await Promise.all(trials)).map((r) => r.provider)).toEqual([primary.name, primary.name]);
  });

  it('when a half-open trial fails, then the circuit re-opens with a doubled wait and the swap names the failed trial', async () => {
    const { primary, swaps, failover } = setup();
    primary.mode = 'transient';
    for (let i = 0; i < 3; i++) await failover.send(email);
    primary.probeOk = true;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await failover.probeOpenProviders();
    await failover.send(email);
    expect(swaps.at(-1)).toMatchObject({
      to: 'open',
      reason: expect.stringContaining('half-open trial failed'),
    });
    expect((await failover.states())[0]).toMatchObject({ state: 'open', failedTrials: 1 });
  });

  it('when the primary times out after the request was sent, then the backup is not tried in the same send', async () => {
    const { primary, backup, failover } = setup();
    primary.mode = 'unknown';
    await expect(failover.send(email)).rejects.toMatchObject({
      unknownOutcome: true,
      provider: primary.name,
    });
    expect(backup.calls).toBe(0);
  });

  it('when pinned to a provider, then only that provider is called, even with its circuit open', async () => {
    const { primary, backup, failover } = setup();
    primary.mode = 'transient';
    for (let i = 0; i < 3; i++) await failover.send(email);
    primary.mode = 'ok';
    expect((await failover.send(email, { only: primary.name })).provider).toBe(primary.name);
    primary.mode = 'transient';
    const before = backup.calls;
    await expect(failover.send(email, { only: primary.name })).rejects.toMatchObject({ kind: 'transient' });
    expect(backup.calls).toBe(before);
  });

  it('when the caller’s check before a provider call throws, then no provider is called', async () => {
    const { primary, backup, failover } = setup();
    const lost = new Error('claim lost');
    await expect(
      failover.send(email, {
        beforeAttempt: async () => {
          throw lost;
        },
      }),
    ).rejects.toBe(lost);
    expect(primary.calls + backup.calls).toBe(0);
  });

  it('when the primary fails permanently, then the error is rethrown, the backup is not tried and the circuit not counted', async () => {
    const { primary, backup, failover } = setup();
    primary.mode = 'permanent';
    await expect(failover.send(email)).rejects.toMatchObject({ kind: 'permanent' });
    expect(backup.calls).toBe(0);
    expect((await failover.states())[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('when every provider fails transiently, then the send fails transiently; with every circuit open they are still tried', async () => {
    const { primary, backup, failover } = setup();
    primary.mode = 'transient';
    backup.mode = 'transient';
    for (let i = 0; i < 3; i++)
      await expect(failover.send(email)).rejects.toMatchObject({ kind: 'transient' });
    expect((await failover.states()).map((s) => s.state)).toEqual(['open', 'open']);
    backup.mode = 'ok';
    expect((await failover.send(email)).provider).toBe(backup.name);
  });
});
