import { DateTime, IANAZone } from 'luxon';
import type {
  BriefingAllDayEvent,
  BriefingAttendee,
  BriefingMeeting,
  BriefingModel,
} from '../../src/briefings/briefing.model.ts';

/**
 * Wording shared by the briefing email and the briefing Slack blocks, so both say the same
 * thing. Pure: no React, no Slack syntax, no escaping (each renderer escapes for its medium).
 */

// Fixed so the output does not depend on the host's locale (snapshots, CI, containers).
const LOCALE = 'en-GB';

/** The rep's zone, or UTC when the stored zone is not one luxon knows (a typo must not crash a send). */
export function briefingZone(model: BriefingModel): string {
  return IANAZone.isValidZone(model.timeZone) ? model.timeZone : 'UTC';
}

function localDay(model: BriefingModel): DateTime {
  const zone = briefingZone(model);
  const day = DateTime.fromISO(model.localDate, { zone, locale: LOCALE });
  return day.isValid ? day : DateTime.fromISO(model.windowStart, { zone, locale: LOCALE }).startOf('day');
}

function instant(model: BriefingModel, iso: string): DateTime {
  return DateTime.fromISO(iso, { setZone: false }).setZone(briefingZone(model)).setLocale(LOCALE);
}

/**
 * Locales whose short zone names people actually use: ICU gives "EDT" only in en-US, "BST" and
 * "CET" in en-GB, "IST" (India) in en-IN, "AEST"/"LHDT" in en-AU; elsewhere it says "GMT+9".
 */
const ABBREVIATION_LOCALES = ['en-US', 'en-GB', 'en-IN', 'en-AU'];

/** "UTC-4", "UTC+5:30", "UTC+0". */
function offsetText(at: DateTime): string {
  const minutes = at.offset;
  const sign = minutes < 0 ? '-' : '+';
  const hours = Math.floor(Math.abs(minutes) / 60);
  const rest = Math.abs(minutes) % 60;
  return `UTC${sign}${hours}${rest ? `:${String(rest).padStart(2, '0')}` : ''}`;
}

/**
 * The zone as a person reads it at one instant: "EDT (UTC-4)", "IST (UTC+5:30)", "LHDT (UTC+11)",
 * or just "UTC+9" where no abbreviation is in common use (ICU would only say "GMT+9"), and "UTC".
 */
export function zoneLabelAt(at: DateTime): string {
  if (at.zoneName === 'UTC') return 'UTC';
  const offset = offsetText(at);
  for (const locale of ABBREVIATION_LOCALES) {
    const abbreviation = at.setLocale(locale).toFormat('ZZZZ');
    if (/^[A-Z]{2,5}$/.test(abbreviation)) return `${abbreviation} (${offset})`;
  }
  return offset;
}

/** Where the briefing's local day changes offset (a DST switch), the first instant of the new one. */
function offsetChange(model: BriefingModel): DateTime | undefined {
  const start = localDay(model).startOf('day');
  const end = start.plus({ days: 1 });
  if (start.offset === end.offset) return undefined;
  let low = start.toMillis();
  let high = end.toMillis();
  while (high - low > 60_000) {
    const middle = Math.floor((low + high) / 2 / 60_000) * 60_000;
    if (DateTime.fromMillis(middle, { zone: start.zone }).offset === start.offset) low = middle;
    else high = middle;
  }
  return DateTime.fromMillis(high, { zone: start.zone, locale: LOCALE });
}

/**
 * The zone of the briefing's day: "EDT (UTC-4)"; on a DST day both, with the local time of the
 * switch as it reads after it: "EST (UTC-5), EDT (UTC-4) from 03:00".
 */
export function dayZoneLabel(model: BriefingModel): string {
  const start = localDay(model).startOf('day');
  const change = offsetChange(model);
  if (!change) return zoneLabelAt(start);
  return `${zoneLabelAt(start)}, ${zoneLabelAt(change)} from ${change.toFormat('HH:mm')}`;
}

/** On a DST day each meeting names its own offset ("EDT (UTC-4)"); on other days undefined. */
export function meetingZoneLabel(
  model: BriefingModel,
  meeting: Pick<BriefingMeeting, 'startsAt'>,
): string | undefined {
  if (!offsetChange(model)) return undefined;
  const start = instant(model, meeting.startsAt);
  return start.isValid ? zoneLabelAt(start) : undefined;
}

/** "Times in EDT (UTC-4) · America/New_York" (the abbreviation alone is ambiguous: IST, CST). */
export function timesLine(model: BriefingModel): string {
  const zone = briefingZone(model);
  const label = dayZoneLabel(model);
  return zone === 'UTC' ? 'Times in UTC' : `Times in ${label} · ${zone}`;
}

/** "Tuesday, 24 November" */
export function dayHeading(model: BriefingModel): string {
  return localDay(model).toFormat('cccc, d LLLL');
}

/** "Tue 24 Nov" */
export function shortDay(model: BriefingModel): string {
  return localDay(model).toFormat('ccc d LLL');
}

/**
 * "09:30–10:15" in the rep's zone. An end (or start) on another local day than the briefing's
 * carries its weekday ("23:30–Wed 00:15"), so a late call is not read as a morning one. On a DST
 * day the meeting names its offset ("09:30–10:15 EDT (UTC-4)"): the day has two.
 */
export function timeRange(
  model: BriefingModel,
  meeting: Pick<BriefingMeeting, 'startsAt' | 'endsAt'>,
): string {
  const start = instant(model, meeting.startsAt);
  const end = instant(model, meeting.endsAt);
  // The end names its day only when it differs from the start's: "Tue 09:30–10:00", "23:30–Wed 00:15".
  const sameDay = start.isValid && end.isValid && start.toISODate() === end.toISODate();
  const zone = meetingZoneLabel(model, meeting);
  return `${localTime(model, meeting.startsAt)}–${sameDay ? end.toFormat('HH:mm') : localTime(model, meeting.endsAt)}${zone ? ` ${zone}` : ''}`;
}

/** One instant as the rep reads it: "09:30", or "Wed 00:30" when on another local day. */
export function localTime(model: BriefingModel, iso: string): string {
  const at = instant(model, iso);
  if (!at.isValid) return iso;
  return at.toISODate() === localDay(model).toISODate() ? at.toFormat('HH:mm') : at.toFormat('ccc HH:mm');
}

/** "" for a one-day event on the briefing's date, else "Mon 23 Nov" or "Mon 23 Nov – Fri 27 Nov". */
export function allDayDates(model: BriefingModel, event: BriefingAllDayEvent): string {
  const day = localDay(model).toISODate();
  const fmt = (date: string) => {
    const d = DateTime.fromISO(date, { zone: 'UTC', locale: LOCALE });
    return d.isValid ? d.toFormat('ccc d LLL') : date;
  };
  if (event.startDate === event.endDate) return event.startDate === day ? '' : fmt(event.startDate);
  return `${fmt(event.startDate)} – ${fmt(event.endDate)}`;
}

const RESPONSE_LABELS: Record<string, string> = {
  tentative: 'tentative',
  needsAction: 'not answered yet',
};

/** A word for the rep's own answer when it is not a plain accept, else undefined. */
export function responseLabel(meeting: BriefingMeeting): string | undefined {
  return meeting.response ? RESPONSE_LABELS[meeting.response] : undefined;
}

const sameEmail = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Attendees to show: the rep left out (they know they are going), external people first. */
export function orderedAttendees(model: BriefingModel, meeting: BriefingMeeting): BriefingAttendee[] {
  const others = meeting.attendees.filter((a) => !sameEmail(a.email, model.rep.email));
  return [...others.filter((a) => a.external), ...others.filter((a) => !a.external)];
}

/** Distinct external people across the day's meetings (by email, case-insensitive). */
export function externalPeopleCount(model: BriefingModel): number {
  const emails = new Set<string>();
  for (const meeting of model.meetings) {
    for (const a of meeting.attendees) if (a.external) emails.add(a.email.trim().toLowerCase());
  }
  return emails.size;
}

export function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "4 meetings, 7 external people" (plus all-day events when there are any). */
export function summaryLine(model: BriefingModel): string {
  const external = externalPeopleCount(model);
  const parts = [
    model.meetings.length === 0 ? 'No meetings' : plural(model.meetings.length, 'meeting', 'meetings'),
  ];
  if (model.meetings.length > 0) {
    parts.push(
      external === 0 ? 'no external people' : plural(external, 'external person', 'external people'),
    );
  }
  if (model.allDay.length > 0) parts.push(plural(model.allDay.length, 'all-day event', 'all-day events'));
  return parts.join(', ');
}

/** "Your briefing for Tue 24 Nov: 4 meetings" */
export function briefingSubject(model: BriefingModel): string {
  const count =
    model.meetings.length === 0 ? 'no meetings' : plural(model.meetings.length, 'meeting', 'meetings');
  return `Your briefing for ${shortDay(model)}: ${count}`;
}

/** "Jane Doe" or, without a name, the email. */
export function attendeeName(attendee: { name?: string; email: string }): string {
  return attendee.name?.trim() || attendee.email;
}

/** "VP Sales at Acme", "VP Sales", "Acme" or undefined. */
export function attendeeRole(attendee: BriefingAttendee): string | undefined {
  const title = attendee.title?.trim();
  const company = attendee.company?.trim();
  if (title && company) return `${title} at ${company}`;
  return title || company || undefined;
}

/** "51-200 employees · Software" or undefined. Vendors give sizes as bare ranges ("51-200"). */
export function attendeeFirmographics(attendee: BriefingAttendee): string | undefined {
  const size = attendee.companySize?.trim();
  const parts = [
    size && /^[\d,.\s+–-]+$/.test(size) ? `${size} employees` : size,
    attendee.industry?.trim(),
  ].filter((p): p is string => Boolean(p));
  return parts.length > 0 ? parts.join(' · ') : undefined;
}

/** "Ann Lee (ann@acme.com)", "ann@acme.com", or "you" when the rep organizes it. */
export function organizerLabel(model: BriefingModel, meeting: BriefingMeeting): string | undefined {
  const organizer = meeting.organizer;
  if (!organizer) return undefined;
  if (sameEmail(organizer.email, model.rep.email)) return 'you';
  // Calendars often send the organizer as a bare address while the attendee list (enriched) has the name.
  const name =
    organizer.name?.trim() ||
    meeting.attendees.find((a) => sameEmail(a.email, organizer.email))?.name?.trim();
  return name && name !== organizer.email ? `${name} (${organizer.email})` : organizer.email;
}

/**
 * The URL when it is http(s), else undefined: calendar and enrichment data are third-party input,
 * and a `javascript:` or `data:` link must never become clickable in an email or in Slack.
 */
export function safeHttpUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url.trim());
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}
