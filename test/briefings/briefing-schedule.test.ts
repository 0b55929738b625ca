import { describe, expect, it } from 'vitest';
import { briefingTimes, localDateAt } from '../../src/briefings/briefing-schedule.ts';

const options = { refreshMinutes: 10, cutoff: '12:00' };
const iso = (d: Date) => d.toISOString();

describe('briefingTimes', () => {
  it('when New York springs forward (2026-03-08), then 08:00 is 12:00Z that day and 13:00Z the day before', () => {
    const rep = { timeZone: 'America/New_York', prepTime: '05:00', briefingTime: '08:00' };
    const before = briefingTimes(rep, '2026-03-07', options);
    const switchDay = briefingTimes(rep, '2026-03-08', options);
    expect(iso(before.deliverAt)).toBe('2026-03-07T13:00:00.000Z');
    expect(iso(before.prepareAt)).toBe('2026-03-07T10:00:00.000Z');
    expect(iso(switchDay.deliverAt)).toBe('2026-03-08T12:00:00.000Z');
    expect(iso(switchDay.prepareAt)).toBe('2026-03-08T09:00:00.000Z');
    expect(iso(switchDay.refreshAt)).toBe('2026-03-08T11:50:00.000Z');
    expect(iso(switchDay.cutoffAt)).toBe('2026-03-08T16:00:00.000Z');
  });

  it('when a preparation time falls in the spring-forward gap (02:30), then it moves forward to 03:30 EDT', () => {
    const rep = { timeZone: 'America/New_York', prepTime: '02:30', briefingTime: '08:00' };
    expect(iso(briefingTimes(rep, '2026-03-08', options).prepareAt)).toBe('2026-03-08T07:30:00.000Z');
  });

  it('when New York falls back (2026-11-01), then 08:00 is 13:00Z and an ambiguous 01:30 takes its first (EDT) occurrence', () => {
    const rep = { timeZone: 'America/New_York', prepTime: '01:30', briefingTime: '08:00' };
    const t = briefingTimes(rep, '2026-11-01', options);
    expect(iso(t.deliverAt)).toBe('2026-11-01T13:00:00.000Z');
    expect(iso(t.prepareAt)).toBe('2026-11-01T05:30:00.000Z');
    expect(iso(briefingTimes(rep, '2026-10-31', options).deliverAt)).toBe('2026-10-31T12:00:00.000Z');
  });

  it('when the rep is in Asia/Kolkata (+05:30), then 08:00 is 02:30Z', () => {
    const t = briefingTimes(
      { timeZone: 'Asia/Kolkata', prepTime: '05:00', briefingTime: '08:00' },
      '2026-11-24',
      options,
    );
    expect(iso(t.deliverAt)).toBe('2026-11-24T02:30:00.000Z');
    expect(iso(t.prepareAt)).toBe('2026-11-23T23:30:00.000Z');
  });

  it('when Lord Howe shifts by 30 minutes (DST ends 2026-04-05, starts 2026-10-04), then 08:00 follows the offset', () => {
    const rep = { timeZone: 'Australia/Lord_Howe', prepTime: '05:00', briefingTime: '08:00' };
    // +11:00 in summer, +10:30 in winter.
    expect(iso(briefingTimes(rep, '2026-04-04', options).deliverAt)).toBe('2026-04-03T21:00:00.000Z');
    expect(iso(briefingTimes(rep, '2026-04-05', options).deliverAt)).toBe('2026-04-04T21:30:00.000Z');
    expect(iso(briefingTimes(rep, '2026-10-03', options).deliverAt)).toBe('2026-10-02T21:30:00.000Z');
    expect(iso(briefingTimes(rep, '2026-10-04', options).deliverAt)).toBe('2026-10-03T21:00:00.000Z');
    // 02:15 does not exist on 2026-10-04 (02:00 -> 02:30): moved forward by the 30-minute gap.
    const gap = briefingTimes({ ...rep, prepTime: '02:15' }, '2026-10-04', options);
    expect(iso(gap.prepareAt)).toBe('2026-10-03T15:45:00.000Z');
  });

  it('when the preparation time is after the delivery time, then it is pulled back to the refresh time', () => {
    const t = briefingTimes(
      { timeZone: 'UTC', prepTime: '09:00', briefingTime: '08:00' },
      '2026-11-24',
      options,
    );
    expect(iso(t.prepareAt)).toBe('2026-11-24T07:50:00.000Z');
  });

  it('when the delivery time is after the cutoff, then the cutoff is two hours after delivery', () => {
    const t = briefingTimes(
      { timeZone: 'UTC', prepTime: '11:00', briefingTime: '13:00' },
      '2026-11-24',
      options,
    );
    expect(iso(t.cutoffAt)).toBe('2026-11-24T15:00:00.000Z');
  });
});

describe('local dates', () => {
  it('when it is 23:00Z on the 23rd, then Kolkata is already on the 24th and New York on the 23rd', () => {
    const now = new Date('2026-11-23T23:00:00Z');
    expect(localDateAt(now, 'Asia/Kolkata')).toBe('2026-11-24');
    expect(localDateAt(now, 'America/New_York')).toBe('2026-11-23');
  });
});
