import { describe, expect, it } from 'vitest';
import {
  compactProfile,
  linkedinUrl,
  networkReason,
  redactKey,
  retryAfter,
} from '../../../src/enrichment/providers/vendor-http.ts';

const KEY = 'vendor-secret-key-0123456789';

describe('retryAfter', () => {
  const now = Date.parse('2026-03-01T10:00:00Z');
  it('when PDL sends the reset as a UTC time or as JSON per window, then seconds until then are returned', () => {
    expect(retryAfter(new Headers({ 'x-ratelimit-reset': '2026-03-01 10:00:30 UTC' }), now)).toBe(30);
    expect(retryAfter(new Headers({ 'x-ratelimit-reset': "{'minute': '2026-03-01T10:01:00'}" }), now)).toBe(
      60,
    );
    expect(retryAfter(new Headers({ 'x-ratelimit-reset': String(now / 1000 + 5) }), now)).toBe(5);
    expect(retryAfter(new Headers({ 'retry-after': 'Sun, 01 Mar 2026 10:00:09 GMT' }), now)).toBe(9);
  });

  it('when the header is garbage or absent, then there is no wait to report', () => {
    expect(retryAfter(new Headers({ 'x-ratelimit-reset': 'soon' }), now)).toBeUndefined();
    expect(retryAfter(new Headers(), now)).toBeUndefined();
  });

  it('when Retry-After is present, then it wins over x-ratelimit-reset', () => {
    const headers = new Headers({ 'retry-after': '120', 'x-ratelimit-reset': '5' });
    expect(retryAfter(headers, now)).toBe(120);
  });

  it('when a header holds an epoch in ms or a moment already past, then the wait is at least 1 s', () => {
    expect(retryAfter(new Headers({ 'x-ratelimit-reset': String(now + 2500) }), now)).toBe(3);
    expect(retryAfter(new Headers({ 'retry-after': 'Sun, 01 Mar 2026 09:00:00 GMT' }), now)).toBe(1);
    expect(retryAfter(new Headers({ 'retry-after': '0.2' }), now)).toBe(1);
  });

  it('when the reset is JSON with several windows, then the nearest one counts', () => {
    const reset = JSON.stringify({ minute: String(now / 1000 + 30), day: '2026-03-02T00:00:00' });
    expect(retryAfter(new Headers({ 'x-ratelimit-reset': reset }), now)).toBe(30);
  });
});

describe('redactKey', () => {
  it('when a message echoes the key, then every occurrence is replaced', () => {
    expect(redactKey(`bad key ${KEY}; again ${KEY}`, KEY)).toBe('bad key [redacted]; again [redacted]');
  });

  it('when the key is empty, then the message is kept as it is', () => {
    expect(redactKey('HTTP 500', '')).toBe('HTTP 500');
  });
});

describe('networkReason', () => {
  it('when the request timed out or was aborted, then the timeout is named', () => {
    expect(networkReason(new DOMException('slow', 'TimeoutError'), 1500, KEY)).toBe(
      'timed out after 1500 ms',
    );
    expect(networkReason(new DOMException('stop', 'AbortError'), 800, KEY)).toBe('timed out after 800 ms');
  });

  it('when fetch failed with a socket error, then its code is given rather than "fetch failed"', () => {
    const error = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    expect(networkReason(error, 1000, KEY)).toBe('failed: ECONNREFUSED');
  });

  it('when the reason echoes the key or is long, then the key is redacted and the text cut at 200', () => {
    expect(networkReason(new Error(`proxy refused ${KEY}`), 1000, KEY)).toBe(
      'failed: proxy refused [redacted]',
    );
    expect(networkReason(new Error('x'.repeat(500)), 1000, KEY)).toBe(`failed: ${'x'.repeat(200)}`);
    expect(networkReason({}, 1000, KEY)).toBe('failed: network error');
  });
});

describe('linkedinUrl', () => {
  it('when the address has no scheme or plain http, then it becomes https without a trailing slash', () => {
    expect(linkedinUrl('linkedin.com/in/seanthorne')).toBe('https://linkedin.com/in/seanthorne');
    expect(linkedinUrl('http://www.linkedin.com/in/tim/')).toBe('https://www.linkedin.com/in/tim');
  });

  it('when the address is not on linkedin.com, then it is dropped', () => {
    expect(linkedinUrl('https://evil.test/in/ana')).toBeUndefined();
    expect(linkedinUrl('https://linkedin.com.evil.test/in/ana')).toBeUndefined();
    expect(linkedinUrl('javascript:alert(1)')).toBeUndefined();
    expect(linkedinUrl('http://[bad')).toBeUndefined();
  });
});

describe('compactProfile', () => {
  it('when fields are missing or empty, then they are left out', () => {
    expect(compactProfile({ name: 'Ana', title: '', company: undefined, industry: 'Software' })).toEqual({
      name: 'Ana',
      industry: 'Software',
    });
  });
});
