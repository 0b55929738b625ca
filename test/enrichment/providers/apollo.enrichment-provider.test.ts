import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QuotaExhaustedError } from '../../../src/enrichment/enrichment-provider.ts';
import {
  ApolloEnrichmentProvider,
  sizeBand,
} from '../../../src/enrichment/providers/apollo.enrichment-provider.ts';
import { AppError } from '../../../src/errors.ts';

const BASE = 'https://apollo.test';
const KEY = 'apollo-secret-key-9876543210';
const EMAIL = 'tim@apollo.io';
const provider = new ApolloEnrichmentProvider({ apiKey: KEY, baseUrl: BASE, timeoutMs: 300 });

const FULL = {
  person: {
    id: '64a7ff0cc4dfae00013df1a5',
    first_name: 'Tim',
    last_name: 'Zheng',
    name: 'Tim Zheng',
    linkedin_url: 'http://www.linkedin.com/in/tim-zheng-677ba010',
    title: 'Founder & CEO',
    city: 'San Francisco',
    state: 'California',
    country: 'United States',
    organization: {
      name: 'Apollo',
      estimated_num_employees: 1600,
      industry: 'information technology & services',
    },
  },
};

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as Error).message).not.toContain(KEY);
    return error as AppError;
  }
  throw new Error('expected an AppError');
}

const match = () => nock(BASE).post('/api/v1/people/match');

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('ApolloEnrichmentProvider', () => {
  it('when Apollo answers 200 with a person, then the request carries the key and the email, and the profile is mapped', async () => {
    let sent: unknown;
    let apiKey: unknown;
    match().reply(function (_uri, body) {
      sent = body;
      apiKey = this.req.headers['x-api-key'];
      return [200, FULL];
    });
    const profile = await provider.lookup(EMAIL);
    expect(apiKey).toBe(KEY);
    expect(sent).toEqual({ email: EMAIL, reveal_personal_emails: false });
    expect(profile).toEqual({
      name: 'Tim Zheng',
      title: 'Founder & CEO',
      company: 'Apollo',
      companySize: '1001-5000',
      industry: 'Information Technology & Services',
      location: 'San Francisco, California, United States',
      linkedinUrl: 'https://www.linkedin.com/in/tim-zheng-677ba010',
    });
  });

  it('when fields are missing or of the wrong type, then the profile keeps what is valid', async () => {
    match().reply(200, {
      person: {
        first_name: 'Ana',
        last_name: 'Lima',
        title: ['not', 'a', 'string'],
        country: 'Brazil',
        linkedin_url: 'https://evil.test/in/ana',
        organization: { name: 'Acme', estimated_num_employees: 'many' },
      },
    });
    expect(await provider.lookup(EMAIL)).toEqual({ name: 'Ana Lima', company: 'Acme', location: 'Brazil' });
  });

  it('when the organization is null, then the person is still returned', async () => {
    match().reply(200, { person: { name: 'Solo Founder', organization: null } });
    expect(await provider.lookup(EMAIL)).toEqual({ name: 'Solo Founder' });
  });

  it('when Apollo answers person: null, then there is no match (null)', async () => {
    match().reply(200, { person: null });
    expect(await provider.lookup(EMAIL)).toBeNull();
  });

  it('when Apollo answers 401, then it is a non-retryable unauthorized error naming APOLLO_API_KEY, without the key', async () => {
    match().reply(401, { error: `Invalid access credentials: ${KEY}` });
    const error = await failure(provider.lookup(EMAIL));
    expect(error.code).toBe('unauthorized');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('APOLLO_API_KEY was rejected');
  });

  it('when Apollo answers 403 for a key without access, then it is unauthorized', async () => {
    match().reply(403, {
      error: 'api/v1/people/match is not accessible with this api_key',
      error_code: 'API_INACCESSIBLE',
    });
    const error = await failure(provider.lookup(EMAIL));
    expect(error).not.toBeInstanceOf(QuotaExhaustedError);
    expect(error.code).toBe('unauthorized');
  });

  it('when Apollo answers 403 about the plan or credits, then the quota is exhausted', async () => {
    match().reply(403, { error: 'You have run out of export credits. Upgrade your plan.' });
    expect(await failure(provider.lookup(EMAIL))).toBeInstanceOf(QuotaExhaustedError);
  });

  it('when Apollo answers 402, then the quota is exhausted', async () => {
    match().reply(402, { error: 'Payment required' });
    const error = await failure(provider.lookup(EMAIL));
    expect(error).toBeInstanceOf(QuotaExhaustedError);
    expect(error.message).toContain('Apollo quota exhausted');
  });

  it('when Apollo answers 422 for bad input, then it is a non-retryable vendor error', async () => {
    match().reply(422, { error: 'Invalid email' });
    const error = await failure(provider.lookup(EMAIL));
    expect(error.code).toBe('vendor_error');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Invalid email');
  });

  it('when Apollo answers 429 for its hourly window, then it is rate_limited with Retry-After, even though it says "upgrade your plan"', async () => {
    match().reply(
      429,
      {
        message:
          'The maximum number of api calls allowed for api/v1/people/match is 600 times per hour. Please upgrade your plan.',
      },
      { 'retry-after': '120' },
    );
    const error = await failure(provider.lookup(EMAIL));
    expect(error).not.toBeInstanceOf(QuotaExhaustedError);
    expect(error.code).toBe('rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterSeconds).toBe(120);
  });

  it('when Apollo answers 429 saying the credits are exhausted, then the quota is exhausted', async () => {
    match().reply(429, { error: 'Insufficient credits: your team credits are exhausted' });
    expect(await failure(provider.lookup(EMAIL))).toBeInstanceOf(QuotaExhaustedError);
  });

  it('when Apollo answers 502, then it is unavailable and retryable', async () => {
    match().reply(502, 'Bad Gateway');
    const error = await failure(provider.lookup(EMAIL));
    expect(error.code).toBe('unavailable');
    expect(error.retryable).toBe(true);
  });

  it('when Apollo does not answer within the timeout, then it is unavailable', async () => {
    match().delay(1_000).reply(200, FULL);
    const error = await failure(provider.lookup(EMAIL));
    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('timed out');
  });

  it('when Apollo answers 200 with HTML, then it is a vendor error, not "no match"', async () => {
    match().reply(200, '<html>maintenance</html>');
    const error = await failure(provider.lookup(EMAIL));
    expect(error.code).toBe('vendor_error');
    expect(error.message).toContain('not JSON');
  });

  it('when Apollo answers 200 without a person field, then it is a vendor error', async () => {
    match().reply(200, { people: [] });
    const error = await failure(provider.lookup(EMAIL));
    expect(error.code).toBe('vendor_error');
    expect(error.retryable).toBe(false);
  });
});

describe('sizeBand', () => {
  it('when a headcount is given, then it falls in the usual LinkedIn band', () => {
    expect(sizeBand(1)).toBe('1-10');
    expect(sizeBand(10)).toBe('1-10');
    expect(sizeBand(11)).toBe('11-50');
    expect(sizeBand(200)).toBe('51-200');
    expect(sizeBand(201)).toBe('201-500');
    expect(sizeBand(10_000)).toBe('5001-10000');
    expect(sizeBand(250_000)).toBe('10001+');
    expect(sizeBand(0)).toBeUndefined();
  });
});
