import { describe, expect, it } from 'vitest';
import { stallSettings } from '../../src/jobs/workers.ts';

describe('stalled-job takeover', () => {
  it.each([30_000, 10_000, 1_000])(
    'when DELIVERY_LOCK_MS is %i, then lock expiry plus one stalled check fits inside it',
    (takeoverMs) => {
      const { lockDuration, stalledInterval } = stallSettings(takeoverMs);
      // The worst case is a lock expiring just after a check: the next check moves the job.
      expect(lockDuration + stalledInterval).toBe(takeoverMs);
      expect(stalledInterval).toBeLessThanOrEqual(lockDuration / 2);
      expect(stalledInterval).toBeGreaterThanOrEqual(250);
    },
  );
});
