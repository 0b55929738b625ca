import { describe, expect, it } from 'vitest';
import { parseTrustProxy } from '../../src/config/config.ts';

describe('TRUST_PROXY', () => {
  it('when empty or false, then no proxy is trusted (the socket address counts)', () => {
    expect(parseTrustProxy('')).toBe(false);
    expect(parseTrustProxy('false')).toBe(false);
  });

  it('when a hop count or addresses are given, then they are kept', () => {
    expect(parseTrustProxy('1')).toBe(1);
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1, loopback')).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      'loopback',
    ]);
    expect(parseTrustProxy('true')).toBe(true);
  });

  it('when it is something else, then it is refused', () => {
    expect(parseTrustProxy('yes please')).toBeUndefined();
  });
});
