import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseFeedUrl } from '../../../src/calendars/calendar-connect.service.ts';
import {
  type CalendarConnectionRef,
  type CalendarEventInput,
  CredentialError,
  type SyncResult,
  type SyncWindow,
} from '../../../src/calendars/calendar-provider.ts';
import {
  DEMO_CALENDAR_PATH,
  DEMO_CALENDAR_URL,
  DEMO_REP_EMAIL,
} from '../../../src/calendars/demo/demo-calendar.ts';
import {
  IcsCalendarProvider,
  MAX_INSTANCES_PER_SERIES,
} from '../../../src/calendars/providers/ics.calendar-provider.ts';
import type { CalendarSyncState } from '../../../src/db/schema.ts';
import { AppError } from '../../../src/errors.ts';

const HOST = 'https://calendar.feeds.test';
const SECRET = 'p7X9secretTOKENq2';
const FEED_PATH = `/calendar/ical/rep%40acme.example/private-${SECRET}/basic.ics`;
const FEED_URL = `${HOST}${FEED_PATH}`;
const REP = 'rep@acme.example';

const provider = new IcsCalendarProvider({ timeoutMs: 300, maxBytes: 1_000_000, allowFileUrls: false });

function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/calendars/${name}`, import.meta.url), 'utf8');
}

function connection(url: string = FEED_URL, repEmail = REP): CalendarConnectionRef {
  return { repEmail, calendarId: null, authKind: 'ics', credentials: { url } };
}

function span(start: string, end: string): SyncWindow {
  return { start: new Date(start), end: new Date(end) };
}

const SPRING = span('2026-02-01T00:00:00Z', '2026-05-01T00:00:00Z');

async function syncBody(body: string, window: SyncWindow = SPRING, repEmail = REP): Promise<SyncResult> {
  nock(HOST).get(FEED_PATH).reply(200, body, { 'Content-Type': 'text/calendar; charset=utf-8' });
  return provider.sync(connection(FEED_URL, repEmail), {}, window);
}

/** id → [start, end] as ISO strings, for exact comparisons. */
function times(events: CalendarEventInput[]): Record<string, [string, string]> {
  return Object.fromEntries(
    events.map((e) => [e.externalId, [e.startsAt.toISOString(), e.endsAt.toISOString()]]),
  );
}

function byId(events: CalendarEventInput[], id: string): CalendarEventInput {
  const event = events.find((e) => e.externalId === id);
  if (!event) throw new Error(`no event ${id} in ${events.map((e) => e.externalId).join(', ')}`);
  return event;
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected an AppError');
}

function calendar(...lines: string[]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
}

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('IcsCalendarProvider: recurrence expansion', () => {
  it('when the New York feed is read, then every instance has its exact UTC instant', async () => {
    const result = await syncBody(fixture('recurring-ny.ics'));
    expect(result.full).toBe(true);
    expect(result.removed).toEqual([]);
    expect(times(result.events)).toEqual({
      'weekly-pipeline@acme.example_20260216T140000Z': [
        '2026-02-16T14:00:00.000Z',
        '2026-02-16T14:30:00.000Z',
      ],
      'weekly-pipeline@acme.example_20260302T140000Z': [
        '2026-03-02T14:00:00.000Z',
        '2026-03-02T14:30:00.000Z',
      ],
      'weekly-pipeline@acme.example_20260309T130000Z': [
        '2026-03-09T13:00:00.000Z',
        '2026-03-09T13:30:00.000Z',
      ],
      'weekly-pipeline@acme.example_20260316T130000Z': [
        '2026-03-17T15:30:00.000Z',
        '2026-03-17T16:00:00.000Z',
      ],
      'weekly-pipeline@acme.example_20260323T130000Z': [
        '2026-03-23T13:00:00.000Z',
        '2026-03-23T13:30:00.000Z',
      ],
      'weekly-pipeline@acme.example_20260406T130000Z': [
        '2026-04-03T20:00:00.000Z',
        '2026-04-03T20:30:00.000Z',
      ],
      'weekly-pipeline@acme.example_20260413T130000Z': [
        '2026-04-13T13:00:00.000Z',
        '2026-04-13T13:30:00.000Z',
      ],
      'daily-standup@acme.example_20260305T133000Z': ['2026-03-05T13:30:00.000Z', '2026-03-05T13:45:00.000Z'],
      'daily-standup@acme.example_20260306T133000Z': ['2026-03-06T13:30:00.000Z', '2026-03-06T13:45:00.000Z'],
      'daily-standup@acme.example_20260307T133000Z': ['2026-03-07T13:30:00.000Z', '2026-03-07T13:45:00.000Z'],
      'daily-standup@acme.example_20260308T123000Z': ['2026-03-08T12:30:00.000Z', '2026-03-08T12:45:00.000Z'],
      'daily-standup@acme.example_20260309T123000Z': ['2026-03-09T12:30:00.000Z', '2026-03-09T12:45:00.000Z'],
      'daily-standup@acme.example_20260314T140000Z': ['2026-03-14T14:00:00.000Z', '2026-03-14T14:15:00.000Z'],
      'single-demo@acme.example': ['2026-03-10T15:00:00.000Z', '2026-03-10T16:00:00.000Z'],
    });
    const starts = result.events.map((e) => e.startsAt.getTime());
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it('when the weekly 09:00 New York series crosses the 2026-03-08 DST switch, then it moves from 14:00Z to 13:00Z', async () => {
    const { events } = await syncBody(fixture('recurring-ny.ics'));
    const weekly = events.filter(
      (e) => e.externalId.startsWith('weekly-pipeline') && e.title === 'Weekly pipeline review',
    );
    expect(weekly.map((e) => e.startsAt.toISOString())).toEqual([
      '2026-02-16T14:00:00.000Z',
      '2026-03-02T14:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
      '2026-03-23T13:00:00.000Z',
      '2026-04-13T13:00:00.000Z',
    ]);
  });

  it('when a series has an EXDATE, a moved override and a cancelled override, then the instance is dropped, replaced and removed', async () => {
    const { events } = await syncBody(fixture('recurring-ny.ics'));
    const ids = events.map((e) => e.externalId);
    expect(ids).not.toContain('weekly-pipeline@acme.example_20260223T140000Z');
    expect(ids).not.toContain('weekly-pipeline@acme.example_20260330T130000Z');
    expect(ids).not.toContain('cancelled-single@acme.example');
    const moved = byId(events, 'weekly-pipeline@acme.example_20260316T130000Z');
    expect(moved).toMatchObject({
      title: 'Weekly pipeline review (moved to Tuesday)',
      startsAt: new Date('2026-03-17T15:30:00Z'),
      endsAt: new Date('2026-03-17T16:00:00Z'),
      selfResponse: 'tentative',
      location: 'HQ 4th floor, room Hudson',
    });
    expect(moved.videoUrl).toBeUndefined();
    expect(moved.attendees).toEqual([
      { email: 'dana.whitfield@acme.example', name: 'Dana Whitfield', response: 'accepted', organizer: true },
      { email: 'rep@acme.example', name: 'Rep Example', response: 'tentative', self: true },
    ]);
  });

  it('when the window holds only the day an instance was moved to, then the moved instance is returned alone', async () => {
    const { events } = await syncBody(
      fixture('recurring-ny.ics'),
      span('2026-03-17T00:00:00Z', '2026-03-18T00:00:00Z'),
    );
    expect(events.map((e) => e.externalId)).toEqual(['weekly-pipeline@acme.example_20260316T130000Z']);
  });

  it('when an instance was moved out of the window, then the window does not show it at its old time', async () => {
    const { events } = await syncBody(
      fixture('recurring-ny.ics'),
      span('2026-03-16T00:00:00Z', '2026-03-17T00:00:00Z'),
    );
    expect(events).toEqual([]);
  });

  it('when a later instance was pulled forward into the window, then it is found although its original time is after the window', async () => {
    const { events } = await syncBody(
      fixture('recurring-ny.ics'),
      span('2026-04-01T00:00:00Z', '2026-04-05T00:00:00Z'),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      externalId: 'weekly-pipeline@acme.example_20260406T130000Z',
      title: 'Weekly pipeline review (pulled forward to Friday)',
      startsAt: new Date('2026-04-03T20:00:00Z'),
      selfResponse: 'needsAction',
    });
  });

  it('when the window cuts through a meeting, then the overlapping instance is kept and the others are not', async () => {
    const { events } = await syncBody(
      fixture('recurring-ny.ics'),
      span('2026-03-09T13:15:00Z', '2026-03-10T15:00:00Z'),
    );
    expect(events.map((e) => e.externalId)).toEqual(['weekly-pipeline@acme.example_20260309T130000Z']);
  });

  it('when an event has attendees, then emails are lower-cased and deduplicated, rooms skipped and the rep marked as self', async () => {
    const { events } = await syncBody(fixture('recurring-ny.ics'));
    const first = byId(events, 'weekly-pipeline@acme.example_20260216T140000Z');
    expect(first.organizer).toEqual({ email: 'dana.whitfield@acme.example', name: 'Dana Whitfield' });
    expect(first.attendees).toEqual([
      { email: 'dana.whitfield@acme.example', name: 'Dana Whitfield', response: 'accepted', organizer: true },
      { email: 'rep@acme.example', name: 'Rep Example', response: 'accepted', self: true },
      { email: 'ana.lima@northwind-robotics.example', name: 'Lima, Ana', response: 'tentative' },
      { email: 'sam.ortiz@contoso-freight.example', name: 'Sam Ortiz', response: 'declined' },
    ]);
    expect(first.selfResponse).toBe('accepted');
    expect(first.status).toBe('confirmed');
    expect(first.allDay).toBe(false);
  });

  it('when text is folded and escaped, then description and location are unfolded and unescaped and the video link is found', async () => {
    const { events } = await syncBody(fixture('recurring-ny.ics'));
    const first = byId(events, 'weekly-pipeline@acme.example_20260216T140000Z');
    expect(first.description).toBe(
      'Agenda: top deals, forecast changes and blockers.\nJoin Zoom: https://acme.zoom.us/j/81234567890?pwd=Q1w2E3r4T5y6U7i8O9p0 (passcode in the invite)',
    );
    expect(first.location).toBe('HQ 4th floor, room Hudson');
    expect(first.videoUrl).toBe('https://acme.zoom.us/j/81234567890?pwd=Q1w2E3r4T5y6U7i8O9p0');
    const single = byId(events, 'single-demo@acme.example');
    expect(single).toMatchObject({
      title: 'Product demo — Contoso Freight',
      status: 'tentative',
      location: 'Contoso Freight, 200 Harbor Way, Boston',
      organizer: { email: 'rep@acme.example', name: 'Rep Example', self: true },
      attendees: [{ email: 'sam.ortiz@contoso-freight.example', name: 'Sam Ortiz', response: 'accepted' }],
    });
    expect(single.selfResponse).toBeUndefined();
    expect(byId(events, 'daily-standup@acme.example_20260305T133000Z').videoUrl).toBe(
      'https://meet.google.com/abc-defg-hij',
    );
  });

  it('when events are all-day, then they span UTC midnights with an exclusive end and a missing DTEND means one day', async () => {
    const { events } = await syncBody(fixture('all-day.ics'));
    expect(times(events)).toEqual({
      'forecast-due@acme.example_20260302': ['2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z'],
      'holiday@acme.example': ['2026-03-09T00:00:00.000Z', '2026-03-10T00:00:00.000Z'],
      'kickoff@acme.example': ['2026-03-11T00:00:00.000Z', '2026-03-14T00:00:00.000Z'],
      'forecast-due@acme.example_20260316': ['2026-03-16T00:00:00.000Z', '2026-03-17T00:00:00.000Z'],
      'quarter-end@acme.example': ['2026-03-20T00:00:00.000Z', '2026-03-21T00:00:00.000Z'],
      'forecast-due@acme.example_20260323': ['2026-03-23T00:00:00.000Z', '2026-03-24T00:00:00.000Z'],
    });
    expect(events.every((e) => e.allDay)).toBe(true);
    expect(byId(events, 'kickoff@acme.example')).toMatchObject({
      title: 'Sales kickoff, Lisbon',
      location: 'Lisbon, Portugal',
    });
  });

  it('when the window falls inside a multi-day event, then the event is returned', async () => {
    const { events } = await syncBody(
      fixture('all-day.ics'),
      span('2026-03-12T09:00:00Z', '2026-03-12T10:00:00Z'),
    );
    expect(events.map((e) => e.externalId)).toEqual(['kickoff@acme.example']);
  });

  it('when TZIDs name IANA zones without a VTIMEZONE, then Kolkata is +05:30 and Lord Howe +11 then +10:30, and floating is UTC', async () => {
    const { events } = await syncBody(fixture('iana-no-vtimezone.ics'));
    expect(times(events)).toEqual({
      'kolkata@acme.example': ['2026-03-10T04:30:00.000Z', '2026-03-10T05:30:00.000Z'],
      'floating@acme.example': ['2026-03-10T12:00:00.000Z', '2026-03-10T13:00:00.000Z'],
      // Lord Howe leaves its 30-minute DST on 2026-04-05; UNTIL (UTC) keeps the last instance.
      'lord-howe@acme.example_20260328T220000Z': ['2026-03-28T22:00:00.000Z', '2026-03-28T22:30:00.000Z'],
      'lord-howe@acme.example_20260404T223000Z': ['2026-04-04T22:30:00.000Z', '2026-04-04T23:00:00.000Z'],
      'lord-howe@acme.example_20260411T223000Z': ['2026-04-11T22:30:00.000Z', '2026-04-11T23:00:00.000Z'],
    });
  });

  it('when a TZID is not an IANA name but the feed defines it in a VTIMEZONE, then the feed definition is used', async () => {
    const body = calendar(
      'BEGIN:VTIMEZONE',
      'TZID:W. Europe Standard Time',
      'BEGIN:STANDARD',
      'DTSTART:16011028T030000',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10',
      'TZOFFSETFROM:+0200',
      'TZOFFSETTO:+0100',
      'END:STANDARD',
      'BEGIN:DAYLIGHT',
      'DTSTART:16010325T020000',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3',
      'TZOFFSETFROM:+0100',
      'TZOFFSETTO:+0200',
      'END:DAYLIGHT',
      'END:VTIMEZONE',
      'BEGIN:VEVENT',
      'UID:outlook-1',
      'DTSTART;TZID=W. Europe Standard Time:20260327T100000',
      'DTEND;TZID=W. Europe Standard Time:20260327T110000',
      'RRULE:FREQ=WEEKLY;COUNT=2',
      'SUMMARY:Berlin office sync',
      'END:VEVENT',
    );
    const { events } = await syncBody(body);
    expect(times(events)).toEqual({
      'outlook-1_20260327T090000Z': ['2026-03-27T09:00:00.000Z', '2026-03-27T10:00:00.000Z'],
      'outlook-1_20260403T080000Z': ['2026-04-03T08:00:00.000Z', '2026-04-03T09:00:00.000Z'],
    });
  });

  it('when a daily series started decades ago, then its instances in the window are exact and the DST change is applied', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:old-daily',
      'DTSTART;TZID=Europe/Berlin:19900101T090000',
      'DTEND;TZID=Europe/Berlin:19900101T091500',
      'RRULE:FREQ=DAILY',
      'EXDATE;TZID=Europe/Berlin:20260330T090000',
      'SUMMARY:Daily',
      'END:VEVENT',
    );
    const { events } = await syncBody(body, span('2026-03-28T00:00:00Z', '2026-04-01T00:00:00Z'));
    expect(events.map((e) => e.externalId)).toEqual([
      'old-daily_20260328T080000Z',
      'old-daily_20260329T070000Z',
      'old-daily_20260331T070000Z',
    ]);
  });

  it('when a fortnightly series started years ago, then the weeks it skips are still skipped', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:fortnightly',
      'DTSTART:20150106T100000Z',
      'DTEND:20150106T103000Z',
      'RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH',
      'SUMMARY:Fortnightly',
      'END:VEVENT',
    );
    const window = span('2026-03-01T00:00:00Z', '2026-04-15T00:00:00Z');
    const { events } = await syncBody(body, window);
    const expected: string[] = [];
    const firstMonday = Date.UTC(2015, 0, 5);
    for (let day = window.start.getTime(); day < window.end.getTime(); day += 86_400_000) {
      const weekday = new Date(day).getUTCDay();
      const week = Math.floor((day - firstMonday) / (7 * 86_400_000));
      if ((weekday === 2 || weekday === 4) && week % 2 === 0) {
        expected.push(new Date(day + 10 * 3_600_000).toISOString());
      }
    }
    expect(expected.length).toBeGreaterThan(5);
    expect(events.map((e) => e.startsAt.toISOString())).toEqual(expected);
  });

  it('when an IANA local time is skipped or repeated by a DST change, then RFC 5545 §3.3.5 picks the offset', async () => {
    const event = (uid: string, start: string) => [
      'BEGIN:VEVENT',
      `UID:${uid}`,
      `DTSTART;TZID=${start}`,
      'DURATION:PT15M',
      'SUMMARY:Edge',
      'END:VEVENT',
    ];
    const body = calendar(
      // Skipped: read with the offset before the gap (EST), so 03:30 EDT.
      ...event('ny-gap', 'America/New_York:20260308T023000'),
      // Repeated: the first occurrence (EDT, and +11 on Lord Howe).
      ...event('ny-repeat', 'America/New_York:20261101T013000'),
      ...event('lh-repeat', 'Australia/Lord_Howe:20260405T014500'),
    );
    const { events } = await syncBody(body, span('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'));
    expect(Object.fromEntries(events.map((e) => [e.externalId, e.startsAt.toISOString()]))).toEqual({
      'ny-gap': '2026-03-08T07:30:00.000Z',
      'ny-repeat': '2026-11-01T05:30:00.000Z',
      'lh-repeat': '2026-04-04T14:45:00.000Z',
    });
  });

  it('when an override moves an instance from months back into the window, then it is found', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:long-daily',
      'DTSTART:20200101T090000Z',
      'DTEND:20200101T093000Z',
      'RRULE:FREQ=DAILY',
      'SUMMARY:Daily check',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:long-daily',
      'RECURRENCE-ID:20260110T090000Z',
      'DTSTART:20260310T150000Z',
      'DTEND:20260310T153000Z',
      'SUMMARY:Daily check (postponed from January)',
      'END:VEVENT',
    );
    const { events } = await syncBody(body, span('2026-03-10T12:00:00Z', '2026-03-11T00:00:00Z'));
    expect(events.map((e) => [e.externalId, e.startsAt.toISOString()])).toEqual([
      ['long-daily_20260110T090000Z', '2026-03-10T15:00:00.000Z'],
    ]);
  });

  it('when a rule would produce unbounded instances, then expansion stops at the per-series cap', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:runaway',
      'DTSTART:20260301T000000Z',
      'DURATION:PT1M',
      'RRULE:FREQ=MINUTELY',
      'SUMMARY:Runaway',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:normal',
      'DTSTART:20260302T090000Z',
      'DTEND:20260302T100000Z',
      'SUMMARY:Normal meeting',
      'END:VEVENT',
    );
    const { events } = await syncBody(body, span('2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z'));
    expect(events.filter((e) => e.externalId.startsWith('runaway_'))).toHaveLength(MAX_INSTANCES_PER_SERIES);
    expect(events.map((e) => e.externalId)).toContain('normal');
  });

  it('when many series together need too many steps, then the feed is refused rather than half-read', async () => {
    const series = Array.from({ length: 14 }, (_, i) => [
      'BEGIN:VEVENT',
      `UID:busy-${i}`,
      'DTSTART:20250101T000000Z',
      'DURATION:PT1M',
      'RRULE:FREQ=MINUTELY',
      'SUMMARY:Busy',
      'END:VEVENT',
    ]).flat();
    const error = await failure(syncBody(calendar(...series)));
    expect(error).toMatchObject({ code: 'vendor_error', retryable: false });
    expect(error.message).toContain('too many recurring instances');
  });

  it('when overrides arrive without their series, then each is an instance of its own', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:someone-elses-series',
      'RECURRENCE-ID:20260310T090000Z',
      'DTSTART:20260310T100000Z',
      'DTEND:20260310T110000Z',
      'SUMMARY:The one occurrence I was invited to',
      `ATTENDEE;PARTSTAT=ACCEPTED:mailto:${REP}`,
      'END:VEVENT',
    );
    const { events } = await syncBody(body);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      externalId: 'someone-elses-series_20260310T090000Z',
      startsAt: new Date('2026-03-10T10:00:00Z'),
      selfResponse: 'accepted',
    });
  });

  it('when one event is malformed, then the rest of the feed is still read', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:broken',
      'DTSTART:not-a-date',
      'SUMMARY:Broken',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:fine',
      'DTSTART:20260302T090000Z',
      'DTEND:20260302T100000Z',
      'SUMMARY:Fine',
      'END:VEVENT',
    );
    const { events } = await syncBody(body);
    expect(events.map((e) => e.externalId)).toEqual(['fine']);
  });
});

describe('IcsCalendarProvider: floating times and zone names', () => {
  const newYork = { ...connection(), timeZone: 'America/New_York' };
  async function syncAs(ref: CalendarConnectionRef, body: string, window: SyncWindow = SPRING) {
    nock(HOST).get(FEED_PATH).reply(200, body, { 'Content-Type': 'text/calendar' });
    return provider.sync(ref, {}, window);
  }

  it("when a time has neither Z nor TZID, then it is the wall time in the rep's zone on both sides of both 2026 DST days", async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:winter',
      'DTSTART:20260305T150000',
      'DTEND:20260305T160000',
      'SUMMARY:Before spring forward',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:spring',
      'DTSTART:20260310T150000',
      'DTEND:20260310T160000',
      'SUMMARY:After spring forward',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:weekly',
      'DTSTART:20261026T090000',
      'DTEND:20261026T093000',
      'RRULE:FREQ=WEEKLY;COUNT=2',
      'SUMMARY:Across fall back',
      'END:VEVENT',
    );
    const { events } = await syncAs(newYork, body, span('2026-03-01T00:00:00Z', '2026-11-30T00:00:00Z'));
    expect(times(events)).toEqual({
      winter: ['2026-03-05T20:00:00.000Z', '2026-03-05T21:00:00.000Z'],
      spring: ['2026-03-10T19:00:00.000Z', '2026-03-10T20:00:00.000Z'],
      // 2026-11-01: EDT (UTC-4) ends, so the same 09:00 is an hour later in UTC.
      weekly_20261026T130000Z: ['2026-10-26T13:00:00.000Z', '2026-10-26T13:30:00.000Z'],
      weekly_20261102T140000Z: ['2026-11-02T14:00:00.000Z', '2026-11-02T14:30:00.000Z'],
    });
  });

  it('when a floating time is read for a New York rep, then it is at its New York instant, not at the UTC reading of the same wall time', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:late',
      'DTSTART:20260310T150000',
      'DTEND:20260310T160000',
      'SUMMARY:Afternoon call',
      'END:VEVENT',
    );
    // A window up to 18:00Z holds the UTC reading (15:00Z) but not the New York one (19:00Z).
    const inUtc = await syncAs(connection(), body, span('2026-03-10T00:00:00Z', '2026-03-10T18:00:00Z'));
    expect(inUtc.events.map((e) => e.externalId)).toEqual(['late']);
    const inNewYork = await syncAs(newYork, body, span('2026-03-10T00:00:00Z', '2026-03-10T18:00:00Z'));
    expect(inNewYork.events).toEqual([]);
    const evening = await syncAs(newYork, body, span('2026-03-10T18:00:00Z', '2026-03-11T04:00:00Z'));
    expect(times(evening.events)).toEqual({ late: ['2026-03-10T19:00:00.000Z', '2026-03-10T20:00:00.000Z'] });
  });

  it("when a floating time falls in Kolkata or on Lord Howe, then the rep's half-hour offsets apply", async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:standup',
      'DTSTART:20260310T100000',
      'DTEND:20260310T103000',
      'SUMMARY:Stand-up',
      'END:VEVENT',
    );
    const kolkata = await syncAs({ ...connection(), timeZone: 'Asia/Kolkata' }, body);
    expect(times(kolkata.events)).toEqual({
      standup: ['2026-03-10T04:30:00.000Z', '2026-03-10T05:00:00.000Z'],
    });
    const lordHowe = await syncAs({ ...connection(), timeZone: 'Australia/Lord_Howe' }, body);
    // March is Lord Howe's summer: UTC+11.
    expect(times(lordHowe.events)).toEqual({
      standup: ['2026-03-09T23:00:00.000Z', '2026-03-09T23:30:00.000Z'],
    });
  });

  it('when a TZID is a Windows zone name without a VTIMEZONE, then it is mapped to its IANA zone, DST included', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:pacific',
      'DTSTART;TZID=Pacific Standard Time:20260305T090000',
      'DTEND;TZID=Pacific Standard Time:20260305T100000',
      'RRULE:FREQ=WEEKLY;COUNT=2',
      'EXDATE;TZID=Pacific Standard Time:20260312T090000',
      'RDATE;TZID=Pacific Standard Time:20260319T090000',
      'SUMMARY:West coast review',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:india',
      'DTSTART;TZID=India Standard Time:20260310T100000',
      'DTEND;TZID=India Standard Time:20260310T110000',
      'SUMMARY:Bengaluru sync',
      'END:VEVENT',
    );
    const result = await syncAs(newYork, body);
    expect(times(result.events)).toEqual({
      // PST (UTC-8) before 2026-03-08, PDT (UTC-7) after; the EXDATE removes the second week.
      pacific_20260305T170000Z: ['2026-03-05T17:00:00.000Z', '2026-03-05T18:00:00.000Z'],
      pacific_20260319T160000Z: ['2026-03-19T16:00:00.000Z', '2026-03-19T17:00:00.000Z'],
      india: ['2026-03-10T04:30:00.000Z', '2026-03-10T05:30:00.000Z'],
    });
    expect(result.warnings).toBeUndefined();
  });

  it("when a TZID is unknown everywhere, then its times are read in the rep's zone and a warning names the zone, not the feed URL", async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:mystery',
      'DTSTART;TZID=Island Standard Time:20260310T150000',
      'DTEND;TZID=Island Standard Time:20260310T160000',
      'SUMMARY:Mystery',
      'END:VEVENT',
    );
    const result = await syncAs(newYork, body);
    expect(times(result.events)).toEqual({
      mystery: ['2026-03-10T19:00:00.000Z', '2026-03-10T20:00:00.000Z'],
    });
    expect(result.warnings).toEqual([expect.stringContaining('TZID "Island Standard Time"')]);
    expect(result.warnings?.[0]).toContain('America/New_York');
    expect(result.warnings?.join(' ')).not.toContain(SECRET);
  });
});

describe('IcsCalendarProvider: HTTP', () => {
  it('when the feed answers with validators, then they are stored and sent back, and 304 means unchanged', async () => {
    nock(HOST, { badheaders: ['if-none-match', 'if-modified-since'] })
      .get(FEED_PATH)
      .matchHeader('accept', /text\/calendar/)
      .reply(200, fixture('all-day.ics'), {
        ETag: '"feed-v1"',
        'Last-Modified': 'Mon, 02 Mar 2026 08:00:00 GMT',
      });
    const first = await provider.sync(connection(), {}, SPRING);
    expect(first.state).toEqual({
      etag: '"feed-v1"',
      lastModified: 'Mon, 02 Mar 2026 08:00:00 GMT',
      windowStart: '2026-02-01T00:00:00.000Z',
      windowEnd: '2026-05-01T00:00:00.000Z',
      timeZone: 'UTC',
    });

    const conditional = nock(HOST)
      .get(FEED_PATH)
      .matchHeader('if-none-match', '"feed-v1"')
      .matchHeader('if-modified-since', 'Mon, 02 Mar 2026 08:00:00 GMT')
      .reply(304);
    const second = await provider.sync(connection(), first.state, SPRING);
    expect(conditional.isDone()).toBe(true);
    expect(second).toEqual({ full: false, events: [], removed: [], unchanged: true, state: first.state });
  });

  it('when the window moved past the one the validators were stored for, then the feed is fetched unconditionally', async () => {
    const state: CalendarSyncState = {
      etag: '"feed-v1"',
      lastModified: 'Mon, 02 Mar 2026 08:00:00 GMT',
      windowStart: '2026-02-01T00:00:00.000Z',
      windowEnd: '2026-03-01T00:00:00.000Z',
    };
    const scope = nock(HOST, { badheaders: ['if-none-match', 'if-modified-since'] })
      .get(FEED_PATH)
      .reply(200, fixture('all-day.ics'), { ETag: '"feed-v1"' });
    const result = await provider.sync(connection(), state, SPRING);
    expect(scope.isDone()).toBe(true);
    expect(result.full).toBe(true);
    expect(result.events.length).toBeGreaterThan(0);
    expect(result.state).toEqual({
      etag: '"feed-v1"',
      windowStart: '2026-02-01T00:00:00.000Z',
      windowEnd: '2026-05-01T00:00:00.000Z',
      timeZone: 'UTC',
    });
  });

  it('when the rep moved to another zone since the validators were stored, then the feed is fetched unconditionally and re-read', async () => {
    const body = calendar(
      'BEGIN:VEVENT',
      'UID:floating-call',
      'DTSTART:20260310T150000',
      'DTEND:20260310T160000',
      'SUMMARY:Call',
      'END:VEVENT',
    );
    nock(HOST).get(FEED_PATH).reply(200, body, { ETag: '"feed-v1"' });
    const first = await provider.sync({ ...connection(), timeZone: 'Europe/London' }, {}, SPRING);
    expect(first.state.timeZone).toBe('Europe/London');

    const scope = nock(HOST, { badheaders: ['if-none-match'] })
      .get(FEED_PATH)
      .reply(200, body, { ETag: '"feed-v1"' });
    const moved = await provider.sync({ ...connection(), timeZone: 'America/New_York' }, first.state, SPRING);
    expect(scope.isDone()).toBe(true);
    expect(times(moved.events)).toEqual({
      'floating-call': ['2026-03-10T19:00:00.000Z', '2026-03-10T20:00:00.000Z'],
    });
    expect(moved.state.timeZone).toBe('America/New_York');
  });

  it('when the URL is webcal://, then it is fetched over https', async () => {
    const scope = nock(HOST).get(FEED_PATH).reply(200, fixture('all-day.ics'));
    const result = await provider.sync(connection(FEED_URL.replace('https://', 'webcal://')), {}, SPRING);
    expect(scope.isDone()).toBe(true);
    expect(result.events).toHaveLength(6);
  });

  it('when the URL carries a user and password, then they go in a Basic Authorization header', async () => {
    const scope = nock(HOST)
      .get(FEED_PATH)
      .matchHeader('authorization', `Basic ${Buffer.from('rep:pa ss').toString('base64')}`)
      .reply(200, fixture('all-day.ics'));
    await provider.sync(connection(FEED_URL.replace('https://', 'https://rep:pa%20ss@')), {}, SPRING);
    expect(scope.isDone()).toBe(true);
  });

  it.each([401, 403, 404, 410])(
    'when the feed answers %i, then the credential is broken and the secret URL is not in the message',
    async (status) => {
      nock(HOST).get(FEED_PATH).reply(status, `Not available: ${FEED_PATH}`);
      const error = await failure(provider.sync(connection(), {}, SPRING));
      expect(error).toBeInstanceOf(CredentialError);
      expect(error.code).toBe('unauthorized');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain(String(status));
      expect(error.message).not.toContain(SECRET);
      expect(error.message).not.toContain('calendar.feeds.test');
    },
  );

  it('when the feed answers 500, then it is unavailable and retryable', async () => {
    nock(HOST).get(FEED_PATH).reply(500, 'oops');
    const error = await failure(provider.sync(connection(), {}, SPRING));
    expect(error).toMatchObject({ code: 'unavailable', retryable: true, retryAfterSeconds: undefined });
    expect(error.message).toContain('ICS feed');
    expect(error.message).toContain('500');
    expect(error.message).not.toContain(SECRET);
  });

  it('when the feed answers 429 with Retry-After seconds, then the wait is passed on', async () => {
    nock(HOST).get(FEED_PATH).reply(429, 'slow down', { 'Retry-After': '120' });
    const error = await failure(provider.sync(connection(), {}, SPRING));
    expect(error).toMatchObject({ code: 'unavailable', retryable: true, retryAfterSeconds: 120 });
  });

  it('when the feed answers 503 with an HTTP-date Retry-After, then the wait is the time until that date', async () => {
    const at = new Date(Date.now() + 90_000).toUTCString();
    nock(HOST).get(FEED_PATH).reply(503, '', { 'Retry-After': at });
    const error = await failure(provider.sync(connection(), {}, SPRING));
    expect(error.code).toBe('unavailable');
    expect(error.retryAfterSeconds).toBeGreaterThan(80);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(91);
  });

  it('when the feed does not answer in time, then it is unavailable and retryable', async () => {
    nock(HOST).get(FEED_PATH).delay(2_000).reply(200, fixture('all-day.ics'));
    const error = await failure(provider.sync(connection(), {}, SPRING));
    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    expect(error.message).toContain('300 ms');
  });

  it('when the connection fails, then it is unavailable and the error text carrying the URL is not repeated', async () => {
    nock(HOST)
      .get(FEED_PATH)
      .replyWithError({ code: 'ECONNRESET', message: `socket hang up while fetching ${FEED_URL}` });
    const error = await failure(provider.sync(connection(), {}, SPRING));
    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    expect(error.message).not.toContain(SECRET);
  });

  it('when the feed answers an HTML page, then it is a permanent vendor error', async () => {
    const error = await failure(syncBody(fixture('garbage.ics')));
    expect(error).toMatchObject({ code: 'vendor_error', retryable: false });
    expect(error.message).toContain('not an iCalendar document');
    expect(error.message).toContain('BEGIN:VCALENDAR');
  });

  it('when the feed starts like iCalendar but cannot be parsed, then it is a permanent vendor error', async () => {
    const error = await failure(syncBody('BEGIN:VCALENDAR\r\nthis line has no colon\r\nEND:VCALENDAR\r\n'));
    expect(error).toMatchObject({ code: 'vendor_error', retryable: false });
    expect(error.message).toContain('could not be parsed');
  });

  it('when the feed declares a body over the limit, then it is a vendor error', async () => {
    const small = new IcsCalendarProvider({ timeoutMs: 300, maxBytes: 1_000, allowFileUrls: false });
    const body = fixture('recurring-ny.ics');
    nock(HOST)
      .get(FEED_PATH)
      .reply(200, body, { 'Content-Length': String(Buffer.byteLength(body)) });
    const error = await failure(small.sync(connection(), {}, SPRING));
    expect(error).toMatchObject({ code: 'vendor_error', retryable: false });
    expect(error.message).toContain('1000-byte limit');
  });

  it('when a streamed body without Content-Length grows over the limit, then reading stops with a vendor error', async () => {
    const small = new IcsCalendarProvider({ timeoutMs: 1_000, maxBytes: 1_000, allowFileUrls: false });
    const chunks = Array.from({ length: 50 }, () => 'X-FILLER:'.padEnd(100, 'x'));
    nock(HOST)
      .get(FEED_PATH)
      .reply(200, () => Readable.from(['BEGIN:VCALENDAR\r\n', ...chunks]));
    const error = await failure(small.sync(connection(), {}, SPRING));
    expect(error).toMatchObject({ code: 'vendor_error', retryable: false });
    expect(error.message).toContain('limit');
  });

  it('when the connection has no URL or an unusable one, then the credential is broken', async () => {
    const none = await failure(provider.sync({ ...connection(), credentials: {} }, {}, SPRING));
    expect(none).toBeInstanceOf(CredentialError);
    const invalid = await failure(provider.sync(connection('not a url'), {}, SPRING));
    expect(invalid).toBeInstanceOf(CredentialError);
    const ftp = await failure(provider.sync(connection(`ftp://files.test/${SECRET}.ics`), {}, SPRING));
    expect(ftp).toBeInstanceOf(CredentialError);
    expect(ftp.message).not.toContain(SECRET);
  });

  it('when a file: URL is given and file URLs are not allowed, then it is refused without reading the file', async () => {
    const error = await failure(
      provider.sync(connection(pathToFileURL(DEMO_CALENDAR_PATH).href), {}, SPRING),
    );
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toContain('http or https');
    expect(error.message).not.toContain(DEMO_CALENDAR_PATH);
  });

  it('when the demo calendar URL is given and file URLs are not allowed (production), then it reads the bundled calendar', async () => {
    const result = await provider.sync(
      connection(DEMO_CALENDAR_URL, DEMO_REP_EMAIL),
      {},
      span('2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z'),
    );
    expect(result.events.filter((e) => !e.allDay)).toHaveLength(4);
  });

  it('when a feed URL is checked where file URLs are not allowed, then only the demo calendar passes besides http(s)', () => {
    expect(parseFeedUrl(` ${DEMO_CALENDAR_URL} `, false)).toBe(DEMO_CALENDAR_URL);
    expect(() => parseFeedUrl(pathToFileURL(DEMO_CALENDAR_PATH).href, false)).toThrow(/https:\/\//);
    expect(() => parseFeedUrl('briefly-demo:../../etc/passwd', false)).toThrow(/https:\/\//);
    expect(parseFeedUrl(pathToFileURL(DEMO_CALENDAR_PATH).href, true)).toMatch(/^file:/);
  });
});

describe('IcsCalendarProvider: the bundled demo calendar', () => {
  const demo = new IcsCalendarProvider({ timeoutMs: 1_000, maxBytes: 1_000_000, allowFileUrls: true });
  const demoConnection = connection(pathToFileURL(DEMO_CALENDAR_PATH).href, DEMO_REP_EMAIL);

  it('when any day is synced, then it has four timed meetings with external attendees and a colleague', async () => {
    const result = await demo.sync(demoConnection, {}, span('2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z'));
    expect(result.full).toBe(true);
    const timed = result.events.filter((e) => !e.allDay);
    expect(timed).toHaveLength(4);
    // November is GMT in London, so wall times equal UTC.
    expect(timed.map((e) => [e.startsAt.toISOString(), e.title])).toEqual([
      ['2026-11-24T09:30:00.000Z', 'Discovery call — Northwind Robotics'],
      ['2026-11-24T11:00:00.000Z', 'Product demo — Contoso Freight'],
      ['2026-11-24T14:00:00.000Z', 'Pricing discussion — Lakeshore Foods'],
      ['2026-11-24T15:30:00.000Z', 'Renewal check-in — Meridian Solar'],
    ]);
    for (const meeting of timed) {
      const external = meeting.attendees.filter((a) => !a.email.endsWith('@briefly.example'));
      const colleagues = meeting.attendees.filter((a) => a.email.endsWith('@briefly.example') && !a.self);
      expect(external.length).toBeGreaterThanOrEqual(1);
      expect(external.length).toBeLessThanOrEqual(3);
      expect(external.every((a) => a.name && a.email.endsWith('.example'))).toBe(true);
      expect(colleagues).toHaveLength(1);
      expect(meeting.organizer).toMatchObject({ email: DEMO_REP_EMAIL, self: true });
      expect(meeting.selfResponse).toBe('accepted');
      expect(meeting.videoUrl ?? meeting.location).toBeTruthy();
    }
    expect(timed[0]?.videoUrl).toBe('https://briefly.zoom.us/j/84512367890');
  });

  it('when a summer Friday is synced, then the meetings follow BST and the weekly all-day event is there', async () => {
    const { events } = await demo.sync(
      demoConnection,
      {},
      span('2026-07-17T00:00:00Z', '2026-07-18T00:00:00Z'),
    );
    const timed = events.filter((e) => !e.allDay);
    expect(timed.map((e) => e.startsAt.toISOString())).toEqual([
      '2026-07-17T08:30:00.000Z',
      '2026-07-17T10:00:00.000Z',
      '2026-07-17T13:00:00.000Z',
      '2026-07-17T14:30:00.000Z',
    ]);
    expect(timed[0]?.title).toBe('Intro call — Bluefin Logistics');
    const allDay = events.filter((e) => e.allDay);
    expect(allDay).toMatchObject([
      { externalId: 'demo-forecast-due@briefly.example_20260717', title: 'Weekly forecast submission due' },
    ]);
  });

  it('when every day of a year is synced, then each has exactly four timed meetings', async () => {
    const { events } = await demo.sync(
      demoConnection,
      {},
      span('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'),
    );
    const perDay = new Map<string, number>();
    for (const e of events.filter((e) => !e.allDay)) {
      const day = e.startsAt.toISOString().slice(0, 10);
      perDay.set(day, (perDay.get(day) ?? 0) + 1);
    }
    expect(perDay.size).toBe(365);
    expect([...perDay.values()].every((count) => count === 4)).toBe(true);
  });

  it('when the demo file is synced again unchanged with its state, then it is unchanged', async () => {
    const window = span('2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z');
    const first = await demo.sync(demoConnection, {}, window);
    expect(first.state.lastModified).toBeTruthy();
    const second = await demo.sync(demoConnection, first.state, window);
    expect(second).toMatchObject({ unchanged: true, full: false, events: [] });
  });
});
