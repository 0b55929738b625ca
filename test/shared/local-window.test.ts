import { describe, expect, it } from 'vitest';
import {
  isInsideWindow,
  nextAllowedInstant,
  nextWindowOpening,
  windowClosesAt,
} from '../../src/shared/local-window.ts';

const NY = 'America/New_York';
const KOLKATA = 'Asia/Kolkata';
const at = (iso: string) => new Date(iso);
const day = { from: '10:00', to: '20:00' };

describe('local windows', () => {
  it('when New York springs forward (2026-03-08), then 10:00-20:00 opens at 14:00Z and closes at 00:00Z', () => {
    // Before the switch 10:00 EST = 15:00Z; after it 10:00 EDT = 14:00Z.
    expect(nextWindowOpening(at('2026-03-07T21:00:00Z'), NY, day)).toEqual(at('2026-03-08T14:00:00Z'));
    expect(windowClosesAt(at('2026-03-08T14:00:00Z'), NY, day)).toEqual(at('2026-03-09T00:00:00Z'));
    expect(isInsideWindow(at('2026-03-08T13:59:59Z'), NY, day)).toBe(false);
    expect(isInsideWindow(at('2026-03-08T14:00:00Z'), NY, day)).toBe(true);
    expect(isInsideWindow(at('2026-03-07T14:30:00Z'), NY, day)).toBe(false);
    expect(isInsideWindow(at('2026-03-07T15:00:00Z'), NY, day)).toBe(true);
  });

  it('when New York falls back (2026-11-01), then 10:00-20:00 opens at 15:00Z instead of 14:00Z', () => {
    expect(nextWindowOpening(at('2026-10-31T23:30:00Z'), NY, day)).toEqual(at('2026-11-01T15:00:00Z'));
    expect(windowClosesAt(at('2026-10-31T20:00:00Z'), NY, day)).toEqual(at('2026-11-01T00:00:00Z'));
    expect(windowClosesAt(at('2026-11-01T16:00:00Z'), NY, day)).toEqual(at('2026-11-02T01:00:00Z'));
    expect(isInsideWindow(at('2026-11-01T14:30:00Z'), NY, day)).toBe(false);
  });

  it('when a window edge falls into the spring-forward gap, then it opens when the gap ends (03:00 EDT)', () => {
    const early = { from: '02:30', to: '05:00' };
    expect(nextWindowOpening(at('2026-03-08T05:00:00Z'), NY, early)).toEqual(at('2026-03-08T07:00:00Z'));
    expect(isInsideWindow(at('2026-03-08T06:59:00Z'), NY, early)).toBe(false);
    expect(isInsideWindow(at('2026-03-08T07:00:00Z'), NY, early)).toBe(true);
  });

  it('when the window edge falls into the repeated fall-back hour, then the first 01:30 closes it', () => {
    const night = { from: '22:00', to: '01:30' };
    // 01:30 EDT = 05:30Z (the second 01:30, EST, would be 06:30Z).
    expect(windowClosesAt(at('2026-11-01T03:00:00Z'), NY, night)).toEqual(at('2026-11-01T05:30:00Z'));
  });

  it('when the zone is Asia/Kolkata (+05:30), then 10:00-20:00 is 04:30Z-14:30Z', () => {
    expect(nextWindowOpening(at('2026-06-01T00:00:00Z'), KOLKATA, day)).toEqual(at('2026-06-01T04:30:00Z'));
    expect(isInsideWindow(at('2026-06-01T04:29:59Z'), KOLKATA, day)).toBe(false);
    expect(isInsideWindow(at('2026-06-01T04:30:00Z'), KOLKATA, day)).toBe(true);
    expect(isInsideWindow(at('2026-06-01T14:29:59Z'), KOLKATA, day)).toBe(true);
    expect(isInsideWindow(at('2026-06-01T14:30:00Z'), KOLKATA, day)).toBe(false);
    expect(windowClosesAt(at('2026-06-01T05:00:00Z'), KOLKATA, day)).toEqual(at('2026-06-01T14:30:00Z'));
  });

  it('when the window crosses midnight (22:00-06:00), then late evening and early morning are inside', () => {
    const night = { from: '22:00', to: '06:00' };
    const z = 'Europe/Moscow'; // UTC+3, no DST
    expect(isInsideWindow(at('2026-06-01T19:00:00Z'), z, night)).toBe(true); // 22:00
    expect(isInsideWindow(at('2026-06-02T02:59:00Z'), z, night)).toBe(true); // 05:59
    expect(isInsideWindow(at('2026-06-02T03:00:00Z'), z, night)).toBe(false); // 06:00
    expect(isInsideWindow(at('2026-06-01T12:00:00Z'), z, night)).toBe(false); // 15:00
    expect(windowClosesAt(at('2026-06-01T20:00:00Z'), z, night)).toEqual(at('2026-06-02T03:00:00Z'));
    expect(nextWindowOpening(at('2026-06-02T03:00:00Z'), z, night)).toEqual(at('2026-06-02T19:00:00Z'));
  });

  it('when the next opening is not before the limit, then there is no allowed instant', () => {
    const now = at('2026-06-01T15:00:00Z'); // 20:30 Kolkata, closed
    expect(nextAllowedInstant(now, KOLKATA, day, at('2026-06-02T04:30:00Z'))).toBeUndefined();
    expect(nextAllowedInstant(now, KOLKATA, day, at('2026-06-02T04:31:00Z'))).toEqual(
      at('2026-06-02T04:30:00Z'),
    );
    expect(nextAllowedInstant(now, KOLKATA, null, at('2026-06-02T00:00:00Z'))).toEqual(now);
    expect(nextAllowedInstant(now, KOLKATA, { from: '20:00', to: '21:00' })).toEqual(now);
  });
});
