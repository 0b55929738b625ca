import { describe, expect, it } from 'vitest';
import {
  compactProfile,
  linkedinUrl,
  networkReason,
  redactKey,
} from '../../../src/enrichment/providers/vendor-http.ts';

const KEY = 'vendor-secret-key-0123456789';

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
