import { describe, expect, it } from 'vitest';
import { rateLimitWaitMs, rateLimitWaitSeconds } from '../../src/shared/retry-after.ts';

describe('rateLimitWaitSeconds', () => {
  const now = Date.parse('2026-03-01T10:00:00Z');
  it('when PDL sends the reset as a UTC time or as JSON per window, then seconds until then are returned', () => {
    expect(rateLimitWaitSeconds(new Headers({ 'x-ratelimit-reset': '2026-03-01 10:00:30 UTC' }), now)).toBe(
      30,
    );
    expect(
      rateLimitWaitSeconds(new Headers({ 'x-ratelimit-reset': "{'minute': '2026-03-01T10:01:00'}" }), now),
    ).toBe(60);
    expect(rateLimitWaitSeconds(new Headers({ 'x-ratelimit-reset': String(now / 1000 + 5) }), now)).toBe(5);
    expect(rateLimitWaitSeconds(new Headers({ 'retry-after': 'Sun, 01 Mar 2026 10:00:09 GMT' }), now)).toBe(
      9,
    );
  });

  it('when the header is garbage or absent, then there is no wait to report', () => {
    expect(rateLimitWaitSeconds(new Headers({ 'x-ratelimit-reset': 'soon' }), now)).toBeUndefined();
    expect(rateLimitWaitSeconds(new Headers(), now)).toBeUndefined();
  });

  it('when Retry-After is present, then it wins over x-ratelimit-reset', () => {
    const headers = new Headers({ 'retry-after': '120', 'x-ratelimit-reset': '5' });
    expect(rateLimitWaitSeconds(headers, now)).toBe(120);
  });

  it('when a header holds an epoch in ms or a moment already past, then the wait is at least 1 s', () => {
    expect(rateLimitWaitSeconds(new Headers({ 'x-ratelimit-reset': String(now + 2500) }), now)).toBe(3);
    expect(rateLimitWaitSeconds(new Headers({ 'retry-after': 'Sun, 01 Mar 2026 09:00:00 GMT' }), now)).toBe(
      1,
    );
    expect(rateLimitWaitSeconds(new Headers({ 'retry-after': '0.2' }), now)).toBe(1);
  });

  it('when the reset is JSON with several windows, then the nearest one counts', () => {
    const reset = JSON.stringify({ minute: String(now / 1000 + 30), day: '2026-03-02T00:00:00' });
    expect(rateLimitWaitSeconds(new Headers({ 'x-ratelimit-reset': reset }), now)).toBe(30);
  });
});

describe('rateLimitWaitMs', () => {
  const now = Date.parse('2026-03-01T10:00:00Z');
  it('when SendGrid sends X-RateLimit-Reset as a unix time, then the wait is the time until then', () => {
    expect(rateLimitWaitMs({ 'x-ratelimit-reset': String(now / 1000 + 30) }, now)).toBe(30_000);
  });

  it('when a plain header object (node:http, gaxios) is given, then names match in any case', () => {
    expect(rateLimitWaitMs({ 'Retry-After': '42' }, now)).toBe(42_000);
    expect(rateLimitWaitMs({ 'retry-after': ['7'] }, now)).toBe(7_000);
  });

  it('when Slack or Graph send delta-seconds, then a small wait is kept as is and a passed date is 0', () => {
    expect(rateLimitWaitMs(new Headers({ 'retry-after': '1' }), now)).toBe(1_000);
    expect(rateLimitWaitMs(new Headers({ 'retry-after': 'Sun, 01 Mar 2026 09:00:00 GMT' }), now)).toBe(0);
  });

  it('when there are no headers or they are garbage, then there is no wait to report', () => {
    expect(rateLimitWaitMs(undefined, now)).toBeUndefined();
    expect(rateLimitWaitMs({ 'retry-after': 'later' }, now)).toBeUndefined();
    expect(rateLimitWaitMs({ 'x-ratelimit-reset': '{not json' }, now)).toBeUndefined();
  });
});
