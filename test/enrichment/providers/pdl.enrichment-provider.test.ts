import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QuotaExhaustedError } from '../../../src/enrichment/enrichment-provider.ts';
import {
  PdlEnrichmentProvider,
  smartCase,
} from '../../../src/enrichment/providers/pdl.enrichment-provider.ts';
import { AppError } from '../../../src/errors.ts';

const BASE = 'https://pdl.test';
const KEY = 'pdl-secret-key-0123456789';
const provider = new PdlEnrichmentProvider({ apiKey: KEY, baseUrl: `${BASE}/`, timeoutMs: 300 });

/** A trimmed real answer: PDL lower-cases strings and gives LinkedIn without a scheme. */
const FULL = {
  status: 200,
  likelihood: 9,
  data: {
    full_name: 'sean thorne',
    first_name: 'sean',
    job_title: 'co-founder and ceo',
    job_company_name: 'people data labs',
    job_company_size: '51-200',
    job_company_industry: 'computer software',
    industry: 'internet',
    location_name: 'san francisco, california, united states',
    linkedin_url: 'linkedin.com/in/seanthorne',
    emails: [{ address: 'sean@peopledatalabs.com' }],
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

function enrich(email = 'sean@peopledatalabs.com') {
  return nock(BASE).get('/v5/person/enrich').query({ email });
}

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('PdlEnrichmentProvider', () => {
  it('when PDL answers 200 with a full record, then the key is sent in X-Api-Key and the profile is nicely cased', async () => {
    let apiKey: unknown;
    enrich().reply(function () {
      apiKey = this.req.headers['x-api-key'];
      return [200, FULL];
    });
    const profile = await provider.lookup('sean@peopledatalabs.com');
    expect(apiKey).toBe(KEY);
    expect(profile).toEqual({
      name: 'Sean Thorne',
      title: 'Co-Founder and CEO',
      company: 'People Data Labs',
      companySize: '51-200',
      industry: 'Computer Software',
      location: 'San Francisco, California, United States',
      linkedinUrl: 'https://linkedin.com/in/seanthorne',
    });
  });

  it('when minLikelihood is set, then it is sent as min_likelihood', async () => {
    const strict = new PdlEnrichmentProvider({
      apiKey: KEY,
      baseUrl: BASE,
      timeoutMs: 300,
      minLikelihood: 6,
    });
    const scope = nock(BASE)
      .get('/v5/person/enrich')
      .query({ email: 'a+b@x.test', min_likelihood: '6' })
      .reply(404, { status: 404, error: { type: 'not_found', message: 'No records were found' } });
    expect(await strict.lookup('a+b@x.test')).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('when some fields are missing or of the wrong type, then the profile keeps what is valid', async () => {
    enrich().reply(200, {
      status: 200,
      data: {
        full_name: "mary-jane o'brien",
        job_title: 42,
        job_company_name: null,
        industry: 'financial services',
        location_name: '',
        linkedin_url: 'javascript:alert(1)',
      },
    });
    expect(await provider.lookup('sean@peopledatalabs.com')).toEqual({
      name: "Mary-Jane O'Brien",
      industry: 'Financial Services',
    });
  });

  it('when PDL answers 404, then there is no match (null), not an error', async () => {
    enrich().reply(404, {
      status: 404,
      error: { type: 'not_found', message: 'No records were found matching your request' },
    });
    expect(await provider.lookup('sean@peopledatalabs.com')).toBeNull();
  });

  it('when PDL answers 401, then it is a non-retryable unauthorized error naming PDL_API_KEY, without the key', async () => {
    enrich().reply(401, {
      status: 401,
      error: { type: 'authentication_error', message: `Invalid API key ${KEY}` },
    });
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.code).toBe('unauthorized');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('PDL_API_KEY was rejected');
    expect(error.message).toContain('[redacted]');
  });

  it('when PDL answers 402, then the quota is exhausted', async () => {
    enrich().reply(402, {
      status: 402,
      error: { type: 'payment_required', message: 'You have hit your account maximum for person enrichment' },
    });
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error).toBeInstanceOf(QuotaExhaustedError);
    expect(error.retryable).toBe(false);
  });

  it('when PDL answers 429 for the minute window, then it is rate_limited, retryable, with Retry-After', async () => {
    enrich().reply(
      429,
      { status: 429, error: { type: 'rate_limit_error', message: 'Rate limit exceeded' } },
      { 'Retry-After': '17' },
    );
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error).not.toBeInstanceOf(QuotaExhaustedError);
    expect(error.code).toBe('rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterSeconds).toBe(17);
  });

  it('when PDL answers 429 with x-ratelimit-reset only, then the wait is read from it', async () => {
    const reset = new Date(Date.now() + 42_000).toISOString();
    enrich().reply(429, { status: 429, error: { type: 'rate_limit_error' } }, { 'x-ratelimit-reset': reset });
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(40);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(43);
  });

  it('when PDL answers 429 saying the credits are used up, then the quota is exhausted', async () => {
    enrich().reply(429, {
      status: 429,
      error: { type: 'rate_limit_error', message: 'Your account has no remaining credits' },
    });
    expect(await failure(provider.lookup('sean@peopledatalabs.com'))).toBeInstanceOf(QuotaExhaustedError);
  });

  it('when PDL answers 500, then it is unavailable and retryable', async () => {
    enrich().reply(500, '<html>Internal Server Error</html>');
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.code).toBe('unavailable');
    expect(error.retryable).toBe(true);
  });

  it('when PDL answers 400, then it is a non-retryable vendor error with its message', async () => {
    enrich().reply(400, { status: 400, error: { type: 'invalid_request_error', message: 'bad email' } });
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.code).toBe('vendor_error');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('invalid_request_error: bad email');
  });

  it('when PDL does not answer within the timeout, then it is unavailable', async () => {
    enrich().delay(1_000).reply(200, FULL);
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('timed out after 300 ms');
  });

  it('when the connection fails, then it is unavailable', async () => {
    enrich().replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.code).toBe('unavailable');
    expect(error.retryable).toBe(true);
  });

  it('when PDL answers 200 with a body that is not JSON, then it is a vendor error, not "no match"', async () => {
    enrich().reply(200, '<html>captive portal</html>');
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.code).toBe('vendor_error');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('not JSON');
  });

  it('when PDL answers 200 with JSON of the wrong shape, then it is a vendor error', async () => {
    enrich().reply(200, { status: 200, data: 'nope' });
    const error = await failure(provider.lookup('sean@peopledatalabs.com'));
    expect(error.code).toBe('vendor_error');
    expect(error.message).toContain('`data`');
  });
});

describe('smartCase', () => {
  it('when a value is all lower case, then names and titles get their capitals back', () => {
    expect(smartCase('ludwig van beethoven', 'name')).toBe('Ludwig van Beethoven');
    expect(smartCase('ronald mcdonald', 'name')).toBe('Ronald McDonald');
    expect(smartCase('vp of sales, emea', 'title')).toBe('VP of Sales, EMEA');
    expect(smartCase('head of it', 'title')).toBe('Head of IT');
  });

  it('when a value already has capitals, then it is kept as written', () => {
    expect(smartCase('iPhone Engineer', 'title')).toBe('iPhone Engineer');
  });
});
