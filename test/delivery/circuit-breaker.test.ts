import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/delivery/circuit-breaker.ts';
import { type EmailProvider, type OutgoingEmail, ProviderError } from '../../src/delivery/email-provider.ts';
import { FailoverEmailProvider, type SwapEvent } from '../../src/delivery/failover.email-provider.ts';
import { uniqueName } from '../helpers/service.ts';

const prefix = uniqueName('briefly_test');
const a = new Redis('redis://127.0.0.1:6379');
const b = new Redis('redis://127.0.0.1:6379');
const options = { prefix, consecutiveFailures: 5, failureRatio: 0.5, minRequests: 20, windowMs: 60_000 };

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
});

/** A fake vendor whose behaviour the test sets. */
class FakeProvider implements EmailProvider {
  calls = 0;
  mode: 'ok' | 'transient' | 'permanent' = 'ok';
  probeOk = false;
  constructor(readonly name: string) {}
  async send() {
    this.calls++;
    if (this.mode === 'ok') return { provider: this.name, providerMessageId: `${this.name}-${this.calls}` };
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
      new CircuitBreaker(a, { ...options, consecutiveFailures: 3 }),
      {
        onSwap: (event) => {
          swaps.push(event);
        },
        onAttempt: (event) => durations.push(event.durationMs),
      },
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
    await failover.probeOpenProviders();
    expect(swaps).toHaveLength(1);
    primary.probeOk = true;
    expect(await failover.probeOpenProviders()).toEqual([{ provider: primary.name, ok: true }]);
    expect(swaps[1]).toMatchObject({ provider: primary.name, to: 'closed', actor: 'probe' });
    expect((await failover.send(email)).provider).toBe(primary.name);
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
