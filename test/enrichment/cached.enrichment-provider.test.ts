import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import nock from 'nock';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import type { PersonProfile } from '../../src/db/schema.ts';
import {
  type CachedEnrichmentDeps,
  CachedEnrichmentProvider,
} from '../../src/enrichment/cached.enrichment-provider.ts';
import { type EnrichmentProvider, QuotaExhaustedError } from '../../src/enrichment/enrichment-provider.ts';
import { ParticipantRepository } from '../../src/enrichment/participant.repository.ts';
import { PdlEnrichmentProvider } from '../../src/enrichment/providers/pdl.enrichment-provider.ts';
import { AppError } from '../../src/errors.ts';
import { dropDatabase, uniqueName } from '../helpers/service.ts';

const DAY = 86_400_000;
const databaseUrl = `postgres://postgres@127.0.0.1:5432/${uniqueName('briefly_test')}`;
const prefix = uniqueName('briefly_test');
let pool: pg.Pool;
let repo: ParticipantRepository;
const redisA = new Redis('redis://127.0.0.1:6379');
const redisB = new Redis('redis://127.0.0.1:6379');

/** A vendor that answers from a table after `delayMs`, and counts what it was asked. */
class FakeVendor implements EnrichmentProvider {
  readonly name = 'fake';
  readonly asked: string[] = [];
  constructor(
    private readonly answer: (email: string) => PersonProfile | null | Error = () => ({ name: 'Ana Lima' }),
    private readonly delayMs = 0,
  ) {}
  async lookup(email: string): Promise<PersonProfile | null> {
    this.asked.push(email);
    if (this.delayMs) await sleep(this.delayMs);
    const result = this.answer(email);
    if (result instanceof Error) throw result;
    return result;
  }
}

function frozenClock(at = new Date('2026-03-02T05:00:00Z')) {
  let now = at;
  return {
    now: () => now,
    set: (next: Date) => {
      now = next;
    },
  };
}

let n = 0;
/** Every test uses its own emails and Redis prefix so they do not see each other's rows or flags. */
function fresh() {
  n++;
  return {
    email: (name: string) => `${name}.${n}@client.test`,
    prefix: `${prefix}:t${n}`,
  };
}

function cached(
  inner: EnrichmentProvider,
  options: Partial<CachedEnrichmentDeps> & Pick<CachedEnrichmentDeps, 'prefix' | 'clock'>,
  redis: Redis = redisA,
) {
  return new CachedEnrichmentProvider(inner, { repo, redis, pollMs: 20, ...options });
}

async function row(email: string) {
  const { rows } = await pool.query('SELECT * FROM participants WHERE email = $1', [email]);
  return rows[0] as
    | { status: string; provider: string; profile: PersonProfile; fetched_at: Date; expires_at: Date }
    | undefined;
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  await prepareDatabase(databaseUrl);
  pool = createPool(databaseUrl, 8);
  repo = new ParticipantRepository(pool);
});

afterEach(() => nock.cleanAll());

afterAll(async () => {
  nock.enableNetConnect();
  const keys = await redisA.keys(`${prefix}:*`);
  if (keys.length) await redisA.del(...keys);
  await redisA.quit();
  await redisB.quit();
  await pool.end();
  await dropDatabase(databaseUrl);
});

describe('CachedEnrichmentProvider', () => {
  it('when the email has a fresh row, then the answer comes from the database and the vendor is not called', async () => {
    const t = fresh();
    const clock = frozenClock();
    const email = t.email('cached');
    await repo.upsert({
      email,
      status: 'found',
      provider: 'fake',
      profile: { name: 'From Cache' },
      fetchedAt: clock.now(),
      expiresAt: new Date(clock.now().getTime() + DAY),
    });
    const vendor = new FakeVendor();
    const provider = cached(vendor, { prefix: t.prefix, clock });
    expect(await provider.lookup(email.toUpperCase())).toEqual({ name: 'From Cache' });
    expect(vendor.asked).toEqual([]);
    expect(provider.vendorCalls).toBe(0);
  });

  it('when a match is found, then it is stored for 30 days under the lower-cased email and the lock is released', async () => {
    const t = fresh();
    const clock = frozenClock();
    const vendor = new FakeVendor(() => ({ name: 'Ana Lima', title: 'CFO' }));
    const provider = cached(vendor, { prefix: t.prefix, clock });
    const email = t.email('found');
    expect(await provider.lookup(`  ${email.toUpperCase()} `)).toEqual({ name: 'Ana Lima', title: 'CFO' });
    expect(vendor.asked).toEqual([email]);
    const stored = await row(email);
    expect(stored).toMatchObject({
      status: 'found',
      provider: 'fake',
      profile: { name: 'Ana Lima', title: 'CFO' },
    });
    expect(stored?.fetched_at.getTime()).toBe(clock.now().getTime());
    expect(stored?.expires_at.getTime()).toBe(clock.now().getTime() + 30 * DAY);
    expect(await redisA.exists(`${t.prefix}:enrich-lock:${email}`)).toBe(0);
    expect(await provider.lookup(email)).toEqual({ name: 'Ana Lima', title: 'CFO' });
    expect(provider.vendorCalls).toBe(1);
  });

  it('when there is no match, then not-found is stored for 7 days and answered as null without a vendor call', async () => {
    const t = fresh();
    const clock = frozenClock();
    const vendor = new FakeVendor(() => null);
    const provider = cached(vendor, { prefix: t.prefix, clock });
    const email = t.email('nobody');
    expect(await provider.lookup(email)).toBeNull();
    const stored = await row(email);
    expect(stored).toMatchObject({ status: 'not_found', profile: {} });
    expect(stored?.expires_at.getTime()).toBe(clock.now().getTime() + 7 * DAY);
    clock.set(new Date(clock.now().getTime() + 6 * DAY));
    expect(await provider.lookup(email)).toBeNull();
    expect(vendor.asked).toHaveLength(1);
  });

  it('when the row has expired, then the vendor is asked again and the row is renewed', async () => {
    const t = fresh();
    const clock = frozenClock();
    let title = 'Analyst';
    const vendor = new FakeVendor(() => ({ name: 'Ana Lima', title }));
    const provider = cached(vendor, { prefix: t.prefix, clock });
    const email = t.email('expired');
    await provider.lookup(email);
    title = 'Director';
    clock.set(new Date(clock.now().getTime() + 30 * DAY));
    expect(await provider.lookup(email)).toEqual({ name: 'Ana Lima', title: 'Director' });
    expect(vendor.asked).toHaveLength(2);
    expect((await row(email))?.expires_at.getTime()).toBe(clock.now().getTime() + 30 * DAY);
  });

  it('when two workers look up one email 20 times at once, then the vendor is called exactly once and all get the answer', async () => {
    const t = fresh();
    const clock = frozenClock();
    const vendor = new FakeVendor(() => ({ name: 'Once Only' }), 150);
    const a = cached(vendor, { prefix: t.prefix, clock }, redisA);
    const b = cached(vendor, { prefix: t.prefix, clock }, redisB);
    const email = t.email('popular');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).lookup(i % 3 ? email : email.toUpperCase())),
    );
    expect(answers).toEqual(Array.from({ length: 20 }, () => ({ name: 'Once Only' })));
    expect(vendor.asked).toEqual([email]);
    expect(a.vendorCalls + b.vendorCalls).toBe(1);
  });

  it('when the lock holder fails, then the waiting worker gets the failure at once instead of calling the vendor too', async () => {
    const t = fresh();
    const clock = frozenClock();
    const vendor = new FakeVendor(() => new AppError('unavailable', 'PDL person enrich 503: down'), 150);
    const a = cached(vendor, { prefix: t.prefix, clock, waitMs: 5_000 }, redisA);
    const b = cached(vendor, { prefix: t.prefix, clock, waitMs: 5_000 }, redisB);
    const email = t.email('flaky');
    const started = Date.now();
    const results = await Promise.allSettled([a.lookup(email), b.lookup(email)]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(vendor.asked).toHaveLength(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason as AppError;
      expect(reason).toBeInstanceOf(AppError);
      expect(reason.code).toBe('unavailable');
      expect(reason.message).toContain('503');
    }
    expect(await row(email)).toBeUndefined();
  });

  it('when another worker holds the lock and never stores a row, then the waiter gives up after waitMs without calling the vendor', async () => {
    const t = fresh();
    const clock = frozenClock();
    const vendor = new FakeVendor();
    const provider = cached(vendor, { prefix: t.prefix, clock, waitMs: 200 });
    const email = t.email('stuck');
    await redisB.set(`${t.prefix}:enrich-lock:${email}`, 'someone-else', 'PX', 10_000);
    const started = Date.now();
    await expect(provider.lookup(email)).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(vendor.asked).toEqual([]);
    await redisB.del(`${t.prefix}:enrich-lock:${email}`);
    expect(await provider.lookup(email)).toEqual({ name: 'Ana Lima' });
  });

  it('when one email fails in a batch, then the others are still enriched and the failure is reported, not thrown', async () => {
    const t = fresh();
    const clock = frozenClock();
    const bad = t.email('bad');
    const vendor = new FakeVendor((email) =>
      email === bad ? new AppError('vendor_error', 'garbage', { retryable: false }) : { name: email },
    );
    const provider = cached(vendor, { prefix: t.prefix, clock });
    const good = t.email('good');
    const batch = await provider.lookupMany([good, bad, 'not-an-email', good.toUpperCase()], 2);
    expect([...batch.profiles]).toEqual([[good, { name: good }]]);
    expect(batch.failed.sort()).toEqual([bad, 'not-an-email'].sort());
    expect(batch.errors.get(bad)?.message).toBe('garbage');
    expect(batch.quotaExhausted).toBe(false);
    expect(batch.skipped).toEqual([]);
    expect(await row(bad)).toBeUndefined();
    expect(vendor.asked.sort()).toEqual([bad, good].sort());
  });

  it('when the quota runs out in two workers at once, then one alert is sent, the rest is skipped and cached profiles still come back', async () => {
    const t = fresh();
    const clock = frozenClock();
    const known = t.email('known');
    await repo.upsert({
      email: known,
      status: 'found',
      provider: 'fake',
      profile: { name: 'Known Person' },
      fetchedAt: clock.now(),
      expiresAt: new Date(clock.now().getTime() + DAY),
    });
    const vendor = new FakeVendor(() => new QuotaExhaustedError('fake', 'out of credits'), 50);
    const alerts: QuotaExhaustedError[] = [];
    const onQuotaExhausted = async (error: QuotaExhaustedError) => {
      alerts.push(error);
    };
    const a = cached(vendor, { prefix: t.prefix, clock, onQuotaExhausted }, redisA);
    const b = cached(vendor, { prefix: t.prefix, clock, onQuotaExhausted }, redisB);
    const listA = [known, ...Array.from({ length: 5 }, (_, i) => t.email(`a${i}`))];
    const listB = Array.from({ length: 5 }, (_, i) => t.email(`b${i}`));
    const [batchA, batchB] = await Promise.all([a.lookupMany(listA, 1), b.lookupMany(listB, 1)]);

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toBeInstanceOf(QuotaExhaustedError);
    expect(vendor.asked.length).toBeLessThanOrEqual(2);
    expect(batchA.quotaExhausted).toBe(true);
    expect(batchB.quotaExhausted).toBe(true);
    expect([...batchA.profiles]).toEqual([[known, { name: 'Known Person' }]]);
    expect(batchA.skipped.sort()).toEqual(listA.slice(1).sort());
    expect(batchB.skipped.sort()).toEqual(listB.sort());
    expect(batchA.failed).toEqual([]);
    const ttl = await redisA.ttl(`${t.prefix}:enrich-quota-exhausted`);
    expect(ttl).toBeGreaterThan(3_500);
    expect(ttl).toBeLessThanOrEqual(3_600);

    // Later batches skip the vendor entirely while the flag is set, and do not alert again.
    const later = await a.lookupMany([t.email('later')], 4);
    expect(later).toMatchObject({ quotaExhausted: true, skipped: [t.email('later')] });
    await expect(b.lookup(t.email('single'))).rejects.toBeInstanceOf(QuotaExhaustedError);
    expect(vendor.asked.length).toBeLessThanOrEqual(2);
    expect(alerts).toHaveLength(1);
  });

  it('when PDL answers 402 behind the cache, then the flag takes the pause and the alert fires once', async () => {
    const t = fresh();
    const clock = frozenClock();
    const pdl = new PdlEnrichmentProvider({ apiKey: 'pdl-key', baseUrl: 'https://pdl.test', timeoutMs: 500 });
    const scope = nock('https://pdl.test')
      .get('/v5/person/enrich')
      .query(true)
      .reply(402, { status: 402, error: { type: 'payment_required', message: 'out of credits' } });
    let alerts = 0;
    const provider = cached(pdl, {
      prefix: t.prefix,
      clock,
      quotaPauseSeconds: 600,
      onQuotaExhausted: () => void alerts++,
    });
    const batch = await provider.lookupMany([t.email('x'), t.email('y'), t.email('z')], 1);
    expect(scope.isDone()).toBe(true);
    expect(provider.vendorCalls).toBe(1);
    expect(alerts).toBe(1);
    expect(batch.skipped).toHaveLength(3);
    const ttl = await redisA.ttl(`${t.prefix}:enrich-quota-exhausted`);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('when the quota error says when it resets, then the pause lasts that long', async () => {
    const t = fresh();
    const clock = frozenClock();
    const vendor = new FakeVendor(() => new QuotaExhaustedError('fake', 'daily limit', 900));
    const provider = cached(vendor, { prefix: t.prefix, clock });
    await provider.lookupMany([t.email('q')], 1);
    const ttl = await redisA.ttl(`${t.prefix}:enrich-quota-exhausted`);
    expect(ttl).toBeGreaterThan(890);
    expect(ttl).toBeLessThanOrEqual(900);
  });
});

describe('ParticipantRepository.purgeExpired', () => {
  it('when the purge runs, then only rows whose expiry has come are deleted', async () => {
    const t = fresh();
    // Long before the other tests' rows expire, so the purge can only touch the rows made here.
    const now = new Date('2020-04-01T00:00:00Z');
    const at = (days: number) => new Date(now.getTime() + days * DAY);
    const rows = { old: at(-1), exact: at(0), soon: at(1), later: at(29) };
    for (const [name, expiresAt] of Object.entries(rows)) {
      await repo.upsert({
        email: t.email(name),
        status: 'found',
        provider: 'fake',
        profile: {},
        fetchedAt: at(-30),
        expiresAt,
      });
    }
    const fresh0 = await repo.getFresh(Object.keys(rows).map(t.email), now);
    expect([...fresh0.keys()].sort()).toEqual([t.email('later'), t.email('soon')].sort());

    const before = await pool.query('SELECT count(*)::int AS n FROM participants');
    expect(await repo.purgeExpired(now)).toBe(2);
    const after = await pool.query('SELECT count(*)::int AS n FROM participants');
    expect(after.rows[0].n).toBe(before.rows[0].n - 2);
    expect(await row(t.email('old'))).toBeUndefined();
    expect(await row(t.email('exact'))).toBeUndefined();
    expect(await row(t.email('soon'))).toBeDefined();
    expect(await row(t.email('later'))).toBeDefined();
  });
});
