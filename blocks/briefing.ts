import type { KnownBlock } from '@slack/types';
import {
  allDayDates,
  attendeeFirmographics,
  attendeeName,
  attendeeRole,
  dayHeading,
  localTime,
  orderedAttendees,
  organizerLabel,
  plural,
  responseLabel,
  safeHttpUrl,
  shortDay,
  summaryLine,
  timeRange,
  timesLine,
} from '../emails/_components/briefing-format.ts';
import type { BriefingAttendee, BriefingMeeting, BriefingModel } from '../src/briefings/briefing.model.ts';
import { context, escapeMrkdwn, header, section } from './common.ts';

/** Slack's cap on blocks in one message. */
export const MAX_MESSAGE_BLOCKS = 50;
const SECTION_TEXT_MAX = 3000;
const CONTEXT_TEXT_MAX = 2000;
/**
 * Slack answers `msg_blocks_too_long` once a message's blocks hold roughly 13.2k characters in
 * total, below what the per-block limits allow (undocumented: slackapi/bolt-js#2509); stay clear.
 */
const TOTAL_TEXT_BUDGET = 12_000;
// Longer links are dropped rather than cut: a cut URL is a broken one.
const URL_MAX = 1500;

/**
 * User text escaped for mrkdwn, at most `max` characters after escaping. Cuts before escaping, by
 * code point, so neither an entity (`&amp;`) nor a surrogate pair is split in two.
 */
function clip(raw: string, max: number): string {
  const escaped = escapeMrkdwn(raw);
  if (escaped.length <= max) return escaped;
  let out = '';
  for (const char of raw) {
    const next = escapeMrkdwn(char);
    if (out.length + next.length > max - 1) break;
    out += next;
  }
  return `${out}…`;
}

function link(url: string | undefined, label: string): string | undefined {
  const safe = safeHttpUrl(url);
  if (!safe || safe.length > URL_MAX) return undefined;
  // `|` separates URL and label inside <…>; `&<>` must be entities there too.
  return `<${escapeMrkdwn(safe).replace(/\|/g, '%7C')}|${label}>`;
}

function meetingText(model: BriefingModel, meeting: BriefingMeeting): string {
  const response = responseLabel(meeting);
  const lines = [
    `*${timeRange(model, meeting)}*${response ? ` _(${response})_` : ''}  *${clip(meeting.title.trim() || '(no title)', 500)}*`,
  ];
  const where = [
    meeting.location ? `:round_pushpin: ${clip(meeting.location, 300)}` : undefined,
    link(meeting.videoUrl, ':video_camera: Join'),
  ].filter(Boolean);
  if (where.length > 0) lines.push(where.join(' · '));
  const organizer = organizerLabel(model, meeting);
  if (organizer) lines.push(`Organizer: ${clip(organizer, 300)}`);
  return lines.join('\n');
}

function attendeeLine(attendee: BriefingAttendee): string {
  const role = attendeeRole(attendee);
  const firmographics = attendeeFirmographics(attendee);
  return [
    `*${clip(attendeeName(attendee), 150)}* (${attendee.external ? 'External' : 'Internal'})`,
    role ? clip(role, 200) : undefined,
    firmographics ? clip(firmographics, 150) : undefined,
    attendee.location ? clip(attendee.location, 100) : undefined,
    link(attendee.linkedinUrl, 'LinkedIn'),
    attendee.firstMeeting ? ':new: first meeting' : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** Lines joined until `max` is reached, then "…and N more <noun>". */
function fitLines(lines: string[], max: number, noun: (n: number) => string): string {
  const kept: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    const left = lines.length - index - 1;
    // Room for this line, and for the "more" line unless this is the last one.
    const reserve = left > 0 ? 40 : 0;
    if (length + line.length + 1 + reserve > max) break;
    kept.push(line);
    length += line.length + 1;
  }
  const hidden = lines.length - kept.length;
  if (hidden > 0) kept.push(`…and ${noun(hidden)}`);
  return kept.join('\n');
}

function attendeesText(model: BriefingModel, meeting: BriefingMeeting): string {
  const attendees = orderedAttendees(model, meeting);
  if (attendees.length === 0) return 'No other attendees.';
  return fitLines(attendees.map(attendeeLine), CONTEXT_TEXT_MAX, (n) =>
    plural(n, 'more attendee', 'more attendees'),
  );
}

function textLength(blocks: KnownBlock[]): number {
  let total = 0;
  for (const block of blocks) {
    if ((block.type === 'section' || block.type === 'header') && block.text) total += block.text.text.length;
    if (block.type === 'context') {
      for (const element of block.elements) if ('text' in element) total += element.text.length;
    }
  }
  return total;
}

/**
 * The briefing as a Slack message: header, the day at a glance, all-day events, then one section
 * (time, title, where, organizer) and one context (attendees, external first) per meeting. Past 50
 * blocks or Slack's total-size limit, the rest of the day is summed up and left to the email.
 */
export function briefingBlocks(model: BriefingModel): { text: string; blocks: KnownBlock[] } {
  const summary = summaryLine(model);
  const blocks: KnownBlock[] = [
    header(`Your briefing for ${dayHeading(model)}`),
    context(
      `${escapeMrkdwn(dayHeading(model))} · ${clip(timesLine(model).replace(/^Times/, 'times'), 200)} · ${summary}`,
    ),
  ];
  if (model.enrichmentNote) blocks.push(context(`:warning: ${clip(model.enrichmentNote, 1000)}`));
  if (model.meetings.length === 0 && !model.appointments?.length) blocks.push(section('No meetings today.'));
  if (model.allDay.length > 0) {
    const lines = model.allDay.map((event) => {
      const dates = allDayDates(model, event);
      return `• ${clip(event.title || '(no title)', 200)}${dates ? ` · ${dates}` : ''}`;
    });
    blocks.push(
      section(
        `*All day*\n${fitLines(lines, SECTION_TEXT_MAX - 10, (n) => plural(n, 'more all-day event', 'more all-day events'))}`,
      ),
    );
  }

  if (model.appointments?.length) {
    const lines = model.appointments.map((a) =>
      [
        `• *${timeRange(model, a)}* ${clip(`${a.serviceName} with ${a.attendee.name}`, 200)} (${clip(a.attendee.email, 254)})`,
        ...a.notes.map(
          (note) => `   _${clip(note.title, 100)}_: ${clip(note.body.replace(/\s+/g, ' '), 300)}`,
        ),
      ].join('\n'),
    );
    blocks.push(
      section(
        `*Appointments*\n${fitLines(lines, SECTION_TEXT_MAX - 20, (n) => plural(n, 'more appointment', 'more appointments'))}`,
      ),
    );
  }

  const moreNote = (n: number) =>
    context(`…and ${plural(n, 'more meeting', 'more meetings')} — see the email`);
  let used = textLength(blocks);
  let shown = 0;
  for (const [index, meeting] of model.meetings.entries()) {
    const meetingBlocks: KnownBlock[] = [
      { type: 'divider' },
      section(meetingText(model, meeting)),
      context(attendeesText(model, meeting)),
    ];
    const cost = textLength(meetingBlocks);
    const last = index === model.meetings.length - 1;
    const reserveBlocks = last ? 0 : 1;
    const reserveText = last ? 0 : 60;
    if (
      blocks.length + meetingBlocks.length + reserveBlocks > MAX_MESSAGE_BLOCKS ||
      used + cost + reserveText > TOTAL_TEXT_BUDGET
    ) {
      break;
    }
    blocks.push(...meetingBlocks);
    used += cost;
    shown += 1;
  }
  if (shown < model.meetings.length) blocks.push(moreNote(model.meetings.length - shown));

  const first = model.meetings[0];
  const firstAt = first ? `, first at ${localTime(model, first.startsAt)}` : '';
  const text = `Your briefing for ${shortDay(model)}: ${summary.charAt(0).toLowerCase()}${summary.slice(1)}${firstAt}`;
  return { text, blocks };
}
