import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { briefingBlocks, MAX_MESSAGE_BLOCKS } from '../../blocks/briefing.ts';
import type { BriefingModel } from '../../src/briefings/briefing.model.ts';
import { briefingMeeting, FIXED_BRIEFING } from '../fixtures/briefing-model.ts';

/** Every Block Kit limit the briefing can hit (VENDOR-FACTS §1), as a list of violations. */
function limitViolations(blocks: KnownBlock[]): string[] {
  const problems: string[] = [];
  if (blocks.length > MAX_MESSAGE_BLOCKS) problems.push(`${blocks.length} blocks`);
  let total = 0;
  for (const [index, block] of blocks.entries()) {
    const at = `block ${index} (${block.type})`;
    if (block.type === 'header') {
      const length = block.text.text.length;
      total += length;
      if (length < 1 || length > 150) problems.push(`${at}: header text ${length}`);
    } else if (block.type === 'section') {
      const length = block.text?.text.length ?? 0;
      total += length;
      if (length < 1 || length > 3000) problems.push(`${at}: section text ${length}`);
      if ((block.fields?.length ?? 0) > 10) problems.push(`${at}: ${block.fields?.length} fields`);
      for (const field of block.fields ?? []) {
        if (field.text.length > 2000) problems.push(`${at}: field ${field.text.length}`);
      }
    } else if (block.type === 'context') {
      if (block.elements.length < 1 || block.elements.length > 10) {
        problems.push(`${at}: ${block.elements.length} elements`);
      }
      for (const element of block.elements) {
        if (!('text' in element)) continue;
        total += element.text.length;
        if (element.text.length < 1 || element.text.length > 3000) {
          problems.push(`${at}: context text ${element.text.length}`);
        }
      }
    } else if (block.type !== 'divider') {
      problems.push(`${at}: unexpected block type`);
    }
    if (block.block_id !== undefined && block.block_id.length > 255) problems.push(`${at}: block_id`);
  }
  // Slack's undocumented aggregate limit (msg_blocks_too_long at ~13.2k characters).
  if (total > 13_000) problems.push(`total text ${total}`);
  return problems;
}

/** Every mrkdwn/plain text in the message, for searching. */
function texts(blocks: KnownBlock[]): string[] {
  return blocks.flatMap((block) => {
    if (block.type === 'header') return [block.text.text];
    if (block.type === 'section') return block.text ? [block.text.text] : [];
    if (block.type === 'context') return block.elements.flatMap((e) => ('text' in e ? [e.text] : []));
    return [];
  });
}

function model(overrides: Partial<BriefingModel>): BriefingModel {
  return { ...FIXED_BRIEFING, allDay: [], ...overrides };
}

function manyMeetings(count: number): BriefingModel {
  return model({
    meetings: Array.from({ length: count }, (_, i) =>
      briefingMeeting({
        title: `Meeting ${i + 1}`,
        startsAt: `2026-11-24T${String(8 + Math.floor(i / 4)).padStart(2, '0')}:${String((i % 4) * 15).padStart(2, '0')}:00.000Z`,
        endsAt: `2026-11-24T${String(8 + Math.floor(i / 4)).padStart(2, '0')}:${String((i % 4) * 15 + 14).padStart(2, '0')}:00.000Z`,
      }),
    ),
  });
}

describe('briefing blocks', () => {
  it('when building the fixed briefing, then the blocks match the snapshot and every limit', () => {
    const message = briefingBlocks(FIXED_BRIEFING);
    expect(message).toMatchSnapshot();
    expect(limitViolations(message.blocks)).toEqual([]);
  });

  it('when building the fixed briefing, then the fallback text sums up the day without user data', () => {
    expect(briefingBlocks(FIXED_BRIEFING).text).toBe(
      'Your briefing for Tue 24 Nov: 4 meetings, 5 external people, 2 all-day events, first at 09:30',
    );
  });

  it('when building the fixed briefing, then header, all-day section and one section+context per meeting appear', () => {
    const { blocks } = briefingBlocks(FIXED_BRIEFING);
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Your briefing for Tuesday, 24 November', emoji: true },
    });
    expect(texts(blocks)[1]).toBe(
      'Tuesday, 24 November · times in GMT (UTC+0) · Europe/London · 4 meetings, 5 external people, 2 all-day events',
    );
    expect(blocks.filter((b) => b.type === 'divider')).toHaveLength(4);
    const all = texts(blocks).join('\n');
    expect(all).toContain(
      '*All day*\n• Q4 pipeline review week · Mon 23 Nov – Fri 27 Nov\n• Lee out of office',
    );
    expect(all).toContain(
      '*09:30–10:15*  *Discovery call: Northwind Traders*\n<https://meet.google.com/abc-defg-hij|:video_camera: Join>\nOrganizer: you',
    );
    expect(all).toContain('*23:30–Wed 00:15*  *Late call: Fabrikam (Seattle)*');
    expect(all).toContain('*13:00–13:30* _(tentative)_  *Pipeline sync*');
  });

  it('when a meeting has attendees, then external people come first with their details and first-meeting marker', () => {
    const { blocks } = briefingBlocks(FIXED_BRIEFING);
    const attendees = texts(blocks).find((t) => t.includes('Priya Shah')) ?? '';
    expect(attendees.split('\n')).toEqual([
      '*Priya Shah* (External) · Head of Procurement at Northwind Traders · 201-500 employees · Wholesale · Manchester, UK · <https://www.linkedin.com/in/priya-shah-example|LinkedIn> · :new: first meeting',
      '*tom.baker@northwind.example* (External) · :new: first meeting',
      '*Lee Chen* (Internal) · Solutions Engineer at Briefly Demo',
    ]);
  });

  it('when a link holds & or |, then it is escaped so the link stays one link', () => {
    const { blocks } = briefingBlocks(
      model({ meetings: [briefingMeeting({ videoUrl: 'https://x.example/j?a=1&b=2|3' })] }),
    );
    expect(texts(blocks).join('\n')).toContain('<https://x.example/j?a=1&amp;b=2%7C3|:video_camera: Join>');
  });

  it('when a link is not http(s), then no link is made', () => {
    const { blocks } = briefingBlocks(
      model({
        meetings: [
          briefingMeeting({
            videoUrl: 'javascript:alert(1)',
            attendees: [
              { email: 'a@x.example', external: true, firstMeeting: false, linkedinUrl: 'slack://open' },
            ],
          }),
        ],
      }),
    );
    const all = texts(blocks).join('\n');
    expect(all).not.toContain('Join');
    expect(all).not.toContain('LinkedIn');
  });

  it('when 30 meetings are in the day, then the message stays within 50 blocks and points to the email', () => {
    const { blocks } = briefingBlocks(manyMeetings(30));
    expect(blocks.length).toBeLessThanOrEqual(MAX_MESSAGE_BLOCKS);
    expect(limitViolations(blocks)).toEqual([]);
    const shown = texts(blocks).filter((t) => t.includes('*  *Meeting ')).length;
    expect(shown).toBeGreaterThan(10);
    const last = blocks.at(-1);
    expect(last).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `…and ${30 - shown} more meetings — see the email` }],
    });
  });

  it('when the meetings just fit, then no "more meetings" note is added', () => {
    // header + context + 16 × (divider, section, context) = 50
    const { blocks } = briefingBlocks(manyMeetings(16));
    expect(blocks).toHaveLength(50);
    expect(texts(blocks).join('\n')).not.toContain('more meeting');
    const over = briefingBlocks(manyMeetings(17)).blocks;
    expect(over.length).toBeLessThanOrEqual(50);
    expect(texts(over).at(-1)).toBe('…and 2 more meetings — see the email');
  });

  it('when meetings carry long text, then the total stays under Slack aggregate limit', () => {
    const long = 'x'.repeat(3000);
    const { blocks } = briefingBlocks(
      model({
        meetings: Array.from({ length: 12 }, () =>
          briefingMeeting({
            title: long,
            location: long,
            attendees: Array.from({ length: 20 }, (_, i) => ({
              email: `p${i}@client.example`,
              name: long,
              title: long,
              company: long,
              external: true,
              firstMeeting: true,
            })),
          }),
        ),
      }),
    );
    expect(limitViolations(blocks)).toEqual([]);
    expect(texts(blocks).at(-1)).toMatch(/^…and \d+ more meetings — see the email$/);
    expect(texts(blocks).some((t) => /…and \d+ more attendees$/.test(t))).toBe(true);
  });

  it('when a title is 5,000 characters, then it is cut to fit the section limit', () => {
    const { blocks } = briefingBlocks(model({ meetings: [briefingMeeting({ title: 'A'.repeat(5000) })] }));
    const meeting = texts(blocks).find((t) => t.includes('AAAA')) ?? '';
    expect(meeting.length).toBeLessThanOrEqual(3000);
    expect(meeting).toContain('A…*');
    expect(limitViolations(blocks)).toEqual([]);
  });

  it('when a long title is all ampersands, then the cut never splits an entity', () => {
    const { blocks } = briefingBlocks(model({ meetings: [briefingMeeting({ title: '&'.repeat(5000) })] }));
    const meeting = texts(blocks).find((t) => t.includes('&amp;')) ?? '';
    expect(meeting.length).toBeLessThanOrEqual(3000);
    expect(meeting.replace(/&amp;/g, '')).not.toContain('&');
    expect(meeting).toContain('&amp;…*');
  });

  it('when user data holds mrkdwn control characters, then & < > are escaped', () => {
    const { blocks } = briefingBlocks(
      model({
        meetings: [
          briefingMeeting({
            title: 'Q&A <!channel> <https://evil.example|click>',
            location: '<@U123>',
            organizer: { name: 'Boss <b>', email: 'boss@x.example' },
            attendees: [
              {
                email: 'e@x.example',
                name: 'Eve <!here>',
                company: 'A&B > C',
                external: true,
                firstMeeting: false,
              },
            ],
          }),
        ],
        allDay: [{ title: '<!everyone> day', startDate: '2026-11-24', endDate: '2026-11-24' }],
        enrichmentNote: 'Limited <data>',
      }),
    );
    const all = texts(blocks).join('\n');
    expect(all).toContain('Q&amp;A &lt;!channel&gt; &lt;https://evil.example|click&gt;');
    expect(all).toContain('&lt;@U123&gt;');
    expect(all).toContain('Boss &lt;b&gt; (boss@x.example)');
    expect(all).toContain('*Eve &lt;!here&gt;* (External) · A&amp;B &gt; C');
    expect(all).toContain('• &lt;!everyone&gt; day');
    expect(all).toContain(':warning: Limited &lt;data&gt;');
    expect(all).not.toMatch(/<[!@]/);
  });

  it('when a meeting has more attendees than fit, then the list ends with how many more', () => {
    const attendees = Array.from({ length: 200 }, (_, i) => ({
      email: `person${i}@client.example`,
      name: `Person number ${i} with a fairly long name`,
      title: 'Senior Director of Strategic Partnerships',
      company: 'Client Example Holdings',
      external: true,
      firstMeeting: false,
    }));
    const { blocks } = briefingBlocks(model({ meetings: [briefingMeeting({ attendees })] }));
    const list = texts(blocks).find((t) => t.includes('Person number 0')) ?? '';
    expect(list.length).toBeLessThanOrEqual(2000);
    expect(list).toMatch(/\n…and \d+ more attendees$/);
    expect(limitViolations(blocks)).toEqual([]);
  });

  it('when the rep is in New York on the spring DST day, then the context names both offsets and each meeting its own', () => {
    const { blocks } = briefingBlocks({
      ...FIXED_BRIEFING,
      allDay: [],
      timeZone: 'America/New_York',
      localDate: '2026-03-08',
      windowStart: '2026-03-08T05:00:00.000Z',
      meetings: [
        briefingMeeting({ startsAt: '2026-03-08T06:30:00.000Z', endsAt: '2026-03-08T07:00:00.000Z' }),
        briefingMeeting({ startsAt: '2026-03-08T19:00:00.000Z', endsAt: '2026-03-08T20:00:00.000Z' }),
      ],
    });
    const all = texts(blocks);
    expect(all[1]).toContain('times in EST (UTC-5), EDT (UTC-4) from 03:00 · America/New_York');
    expect(all.join('\n')).toContain('*01:30–03:00 EST (UTC-5)*');
    expect(all.join('\n')).toContain('*15:00–16:00 EDT (UTC-4)*');
  });

  it('when the rep is in Kolkata, then the context names IST and UTC+5:30', () => {
    const { blocks } = briefingBlocks({ ...FIXED_BRIEFING, timeZone: 'Asia/Kolkata' });
    expect(texts(blocks)[1]).toContain('times in IST (UTC+5:30) · Asia/Kolkata');
  });

  it('when there are no meetings and no all-day events, then one section says so', () => {
    const message = briefingBlocks(model({ meetings: [], allDay: [] }));
    expect(message.blocks).toHaveLength(3);
    expect(texts(message.blocks)[2]).toBe('No meetings today.');
    expect(message.text).toBe('Your briefing for Tue 24 Nov: no meetings');
  });

  it('when a meeting has nobody but the rep, then the attendee context says so', () => {
    const { blocks } = briefingBlocks(
      model({
        meetings: [
          briefingMeeting({
            attendees: [{ email: 'ANA@briefly-demo.com', external: false, firstMeeting: false }],
          }),
        ],
      }),
    );
    expect(texts(blocks)).toContain('No other attendees.');
  });
});
