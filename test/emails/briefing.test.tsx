import { describe, expect, it } from 'vitest';
import Briefing, { renderBriefingEmail } from '../../emails/briefing.tsx';
import type { BriefingModel } from '../../src/briefings/briefing.model.ts';
import { briefingMeeting, FIXED_BRIEFING } from '../fixtures/briefing-model.ts';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'link', 'input', 'col', 'area', 'base', 'wbr']);
const BLOCK = new Set(['p', 'div', 'table', 'h1', 'h2', 'h3', 'ul', 'ol', 'section']);

/**
 * Problems a browser would silently "repair" (and mail clients repair differently): unclosed or
 * mismatched tags, and block elements inside a <p>. Comments and the doctype are skipped.
 */
function htmlProblems(html: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const body = html.replace(/<!DOCTYPE[^>]*>/i, '').replace(/<!--[\s\S]*?-->/g, '');
  for (const match of body.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(\/?)>/g)) {
    const [, closing, rawName, selfClosing] = match;
    const name = (rawName ?? '').toLowerCase();
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
    } else if (!VOID.has(name) && !selfClosing) {
      if (BLOCK.has(name) && stack.includes('p')) problems.push(`<${name}> inside <p>`);
      stack.push(name);
    }
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(', ')}`);
  return problems;
}

function model(overrides: Partial<BriefingModel>): BriefingModel {
  return { ...FIXED_BRIEFING, enrichmentNote: undefined, allDay: [], ...overrides };
}

describe('briefing email', () => {
  it('when rendering the fixed briefing, then HTML and text match the snapshots', async () => {
    const { html, text } = await renderBriefingEmail(FIXED_BRIEFING);
    await expect(html).toMatchFileSnapshot('./__snapshots__/briefing.html');
    await expect(text).toMatchFileSnapshot('./__snapshots__/briefing.txt');
  });

  it('when rendering the fixed briefing, then the HTML is well formed and styled inline', async () => {
    const { html } = await renderBriefingEmail(FIXED_BRIEFING);
    expect(htmlProblems(html)).toEqual([]);
    expect(html).not.toMatch(/<style|<script|class=/i);
    expect(html).toContain('<html dir="ltr" lang="en">');
  });

  it('when rendering the fixed briefing, then subject, heading and summary read the rep day', async () => {
    const { subject, text } = await renderBriefingEmail(FIXED_BRIEFING);
    expect(subject).toBe('Your briefing for Tue 24 Nov: 4 meetings');
    expect(text).toContain('Tuesday, 24 November');
    expect(text).toContain('4 meetings, 5 external people, 2 all-day events');
    expect(text).toContain('Times in GMT (UTC+0) · Europe/London');
    expect(text).toContain('Times are in Europe/London, GMT (UTC+0).');
  });

  it('when a meeting has attendees, then external people come first, the rep is left out and markers show', async () => {
    const { text } = await renderBriefingEmail(FIXED_BRIEFING);
    const priya = text.indexOf('Priya Shah · External · First meeting');
    const tom = text.indexOf('tom.baker@northwind.example · External · First meeting');
    const lee = text.indexOf('Lee Chen · Internal');
    expect(priya).toBeGreaterThan(-1);
    expect(tom).toBeGreaterThan(priya);
    expect(lee).toBeGreaterThan(tom);
    expect(text).not.toContain('Ana Ruiz · Internal');
    expect(text).toContain('Head of Procurement at Northwind Traders');
    expect(text).toContain('201-500 employees · Wholesale');
    expect(text).toContain('Manchester, UK · LinkedIn https://www.linkedin.com/in/priya-shah-example');
    expect(text).toContain('Jordan Doe · External\n');
  });

  it('when a meeting has a video link and a location, then both show and the organizer is named', async () => {
    const { text, html } = await renderBriefingEmail(FIXED_BRIEFING);
    expect(text).toContain('Join https://meet.google.com/abc-defg-hij');
    expect(text).toContain('Organizer: you');
    expect(text).toContain('Organizer: Jordan Doe (j.doe@contoso.example)');
    expect(text).toContain('13:00–13:30 · tentative');
    expect(html).toContain(
      'href="https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc?context=%7b%7d&amp;x=1"',
    );
  });

  it('when a meeting is entirely on the next day, then only its start names the weekday', async () => {
    const { text } = await renderBriefingEmail({
      ...FIXED_BRIEFING,
      meetings: [
        briefingMeeting({ startsAt: '2026-11-25T09:30:00.000Z', endsAt: '2026-11-25T10:00:00.000Z' }),
      ],
    });
    expect(text).toContain('Wed 09:30–10:00');
  });

  it('when a meeting crosses midnight, then the end carries its weekday', async () => {
    const { text } = await renderBriefingEmail(FIXED_BRIEFING);
    expect(text).toContain('23:30–Wed 00:15');
    expect(text).toContain('09:30–10:15');
  });

  it('when the zone has a half-hour offset (Asia/Kolkata), then times are local to it', async () => {
    const { text, subject } = await renderBriefingEmail(
      model({
        timeZone: 'Asia/Kolkata',
        localDate: '2026-11-24',
        meetings: [
          briefingMeeting({ startsAt: '2026-11-24T04:00:00.000Z', endsAt: '2026-11-24T04:45:00.000Z' }),
          briefingMeeting({ startsAt: '2026-11-24T18:00:00.000Z', endsAt: '2026-11-24T19:00:00.000Z' }),
        ],
      }),
    );
    expect(text).toContain('09:30–10:15');
    expect(text).toContain('23:30–Wed 00:30');
    expect(subject).toBe('Your briefing for Tue 24 Nov: 2 meetings');
  });

  it('when the day is a DST switch (America/New_York 2026-03-08), then each time uses its own offset', async () => {
    const { text, subject } = await renderBriefingEmail(
      model({
        timeZone: 'America/New_York',
        localDate: '2026-03-08',
        windowStart: '2026-03-08T05:00:00.000Z',
        windowEnd: '2026-03-09T04:00:00.000Z',
        meetings: [
          // 01:30 EST (UTC-5), then 03:30 EDT: the wall clock skips 02:00-03:00.
          briefingMeeting({ startsAt: '2026-03-08T06:30:00.000Z', endsAt: '2026-03-08T07:30:00.000Z' }),
          briefingMeeting({ startsAt: '2026-03-08T14:00:00.000Z', endsAt: '2026-03-08T15:00:00.000Z' }),
        ],
      }),
    );
    expect(text).toContain('Sunday, 8 March');
    expect(text).toContain('01:30–03:30');
    expect(text).toContain('10:00–11:00');
    expect(subject).toBe('Your briefing for Sun 8 Mar: 2 meetings');
  });

  it('when user data holds markup, then the HTML escapes it and the text keeps it readable', async () => {
    const { html, text } = await renderBriefingEmail(
      model({
        meetings: [
          briefingMeeting({
            title: '<script>alert("x")</script> & co',
            location: '<b>Room</b>',
            attendees: [
              {
                email: 'evil@x.example',
                name: '<img src=x onerror=alert(1)>',
                external: true,
                firstMeeting: false,
                company: '"Quotes" & <Co>',
              },
            ],
          }),
        ],
      }),
    );
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>Room');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(htmlProblems(html)).toEqual([]);
    expect(text).toContain('<script>alert("x")</script> & co');
  });

  it('when a link is not http(s), then it is not rendered as a link', async () => {
    const { html, text } = await renderBriefingEmail(
      model({
        meetings: [
          briefingMeeting({
            videoUrl: 'javascript:alert(1)',
            attendees: [
              {
                email: 'a@x.example',
                external: true,
                firstMeeting: false,
                linkedinUrl: 'data:text/html,<script>alert(1)</script>',
              },
            ],
          }),
        ],
      }),
    );
    expect(html).not.toMatch(/javascript:|data:text/);
    expect(text).not.toContain('Join');
    expect(text).not.toContain('LinkedIn');
  });

  it('when there are no meetings and no all-day events, then the body says there are no meetings', async () => {
    const { subject, text, html } = await renderBriefingEmail(model({ meetings: [], allDay: [] }));
    expect(subject).toBe('Your briefing for Tue 24 Nov: no meetings');
    expect(text).toContain('No meetings today.');
    expect(text).not.toContain('All day');
    expect(text).not.toContain('Organizer');
    expect(htmlProblems(html)).toEqual([]);
  });

  it('when there are only all-day events, then they show under "All day" with their dates', async () => {
    const { text } = await renderBriefingEmail(model({ meetings: [], allDay: FIXED_BRIEFING.allDay }));
    expect(text).toContain('No meetings today.');
    expect(text).toContain('All day');
    expect(text).toContain('Q4 pipeline review week · Mon 23 Nov – Fri 27 Nov');
    expect(text).toMatch(/Lee out of office\n/);
  });

  it('when enrichment was unavailable, then the note is shown', async () => {
    const { text } = await renderBriefingEmail(
      model({ enrichmentNote: 'Attendee details are limited today: enrichment is unavailable.' }),
    );
    expect(text).toContain('Attendee details are limited today: enrichment is unavailable.');
  });

  it('when one meeting has one external attendee, then subject and summary are singular', async () => {
    const { subject, text } = await renderBriefingEmail(model({ meetings: [briefingMeeting()] }));
    expect(subject).toBe('Your briefing for Tue 24 Nov: 1 meeting');
    expect(text).toContain('1 meeting, 1 external person');
  });

  it('when the stored zone is unknown, then the email still renders, in UTC', async () => {
    const { text } = await renderBriefingEmail(
      model({ timeZone: 'Mars/Olympus', meetings: [briefingMeeting()] }),
    );
    expect(text).toContain('09:00–09:30');
    expect(text).toContain('Times are in UTC.');
  });

  it('when the rep is in New York, then times name EDT and its offset, and a 15:00 meeting reads 15:00', async () => {
    const { text } = await renderBriefingEmail(
      model({
        timeZone: 'America/New_York',
        localDate: '2026-03-10',
        windowStart: '2026-03-10T04:00:00.000Z',
        meetings: [
          briefingMeeting({ startsAt: '2026-03-10T19:00:00.000Z', endsAt: '2026-03-10T20:00:00.000Z' }),
        ],
      }),
    );
    expect(text).toContain('Times in EDT (UTC-4) · America/New_York');
    expect(text).toContain('Times are in America/New_York, EDT (UTC-4).');
    expect(text).toContain('15:00–16:00\n');
  });

  it('when the day is a DST switch, then the header names both offsets and each meeting its own', async () => {
    const { text } = await renderBriefingEmail(
      model({
        timeZone: 'America/New_York',
        localDate: '2026-03-08',
        windowStart: '2026-03-08T05:00:00.000Z',
        meetings: [
          briefingMeeting({ startsAt: '2026-03-08T06:30:00.000Z', endsAt: '2026-03-08T07:00:00.000Z' }),
          briefingMeeting({ startsAt: '2026-03-08T13:00:00.000Z', endsAt: '2026-03-08T13:30:00.000Z' }),
        ],
      }),
    );
    expect(text).toContain('Times in EST (UTC-5), EDT (UTC-4) from 03:00 · America/New_York');
    // 06:30Z–07:00Z: half an hour that ends after the clocks jumped from 02:00 to 03:00.
    expect(text).toContain('01:30–03:00 EST (UTC-5)');
    expect(text).toContain('09:00–09:30 EDT (UTC-4)');
  });

  it('when the rep is in Kolkata or on Lord Howe, then half-hour offsets show with the local abbreviation', async () => {
    const kolkata = await renderBriefingEmail(
      model({ timeZone: 'Asia/Kolkata', meetings: [briefingMeeting()] }),
    );
    expect(kolkata.text).toContain('Times in IST (UTC+5:30) · Asia/Kolkata');
    expect(kolkata.text).toContain('14:30–15:00');
    const lordHowe = await renderBriefingEmail(
      model({ timeZone: 'Australia/Lord_Howe', meetings: [briefingMeeting()] }),
    );
    // November is Lord Howe's summer: half an hour of DST on top of UTC+10:30.
    expect(lordHowe.text).toContain('Times in LHDT (UTC+11) · Australia/Lord_Howe');
    expect(lordHowe.text).toContain('20:00–20:30');
  });

  it('when the rep is in a zone without a common abbreviation, then only the offset is named', async () => {
    const { text } = await renderBriefingEmail(
      model({ timeZone: 'Asia/Tokyo', meetings: [briefingMeeting()] }),
    );
    expect(text).toContain('Times in UTC+9 · Asia/Tokyo');
    expect(text).not.toContain('GMT+9');
  });

  it('when the preview props render, then they show three meetings and the all-day event', async () => {
    const { subject, text } = await renderBriefingEmail(Briefing.PreviewProps);
    expect(subject).toBe('Your briefing for Tue 24 Nov: 3 meetings');
    expect(text).toContain('All day');
    expect(text).toContain('First meeting');
  });
});
