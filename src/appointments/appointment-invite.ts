import ical, {
  ICalAttendeeRole,
  ICalAttendeeStatus,
  ICalCalendarMethod,
  ICalEventStatus,
} from 'ical-generator';
import { DateTime, FixedOffsetZone } from 'luxon';

export interface InviteInput {
  /** The appointment id: the event's UID is derived from it and never changes. */
  appointmentId: string;
  sequence: number;
  method: 'REQUEST' | 'CANCEL';
  start: Date;
  end: Date;
  /** Zone the times are written in (DTSTART;TZID=...): the attendee's. */
  timeZone: string;
  summary: string;
  description?: string;
  location?: string | null;
  organizer: { name: string; email: string };
  attendee: { name: string; email: string };
  /** Right-hand side of the UID (the Message-ID domain). */
  domain: string;
  /** DTSTAMP: when this version of the invite was made. */
  stamp: Date;
}

export function inviteUid(appointmentId: string, domain: string): string {
  return `appointment-${appointmentId}@${domain}`;
}

/**
 * An iTIP invite (RFC 5546) for one appointment. Calendars match updates and cancellations to the
 * event by UID and only apply a SEQUENCE higher than the one they hold, so every change the
 * attendee hears about must come with a higher sequence.
 */
export function buildInvite(input: InviteInput): string {
  const calendar = ical({
    prodId: { company: 'Briefly', product: 'appointments', language: 'EN' },
    method: input.method === 'CANCEL' ? ICalCalendarMethod.CANCEL : ICalCalendarMethod.REQUEST,
  });
  calendar.timezone({ name: input.timeZone, generator: (zone) => vtimezone(zone, input.start) });
  calendar.createEvent({
    id: inviteUid(input.appointmentId, input.domain),
    sequence: input.sequence,
    stamp: input.stamp,
    start: DateTime.fromJSDate(input.start, { zone: input.timeZone }),
    end: DateTime.fromJSDate(input.end, { zone: input.timeZone }),
    timezone: input.timeZone,
    summary: input.summary,
    description: input.description ?? null,
    location: input.location ?? null,
    status: input.method === 'CANCEL' ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
    organizer: { name: input.organizer.name, email: input.organizer.email },
    attendees: [
      {
        name: input.attendee.name,
        email: input.attendee.email,
        rsvp: input.method === 'REQUEST',
        role: ICalAttendeeRole.REQ,
        status: ICalAttendeeStatus.NEEDSACTION,
      },
    ],
  });
  // With a calendar time zone ical-generator writes DTSTAMP as local time; RFC 5545 wants it in UTC.
  const stamp = `${DateTime.fromJSDate(input.stamp, { zone: 'utc' }).toFormat("yyyyMMdd'T'HHmmss")}Z`;
  return calendar.toString().replace(/^DTSTAMP:.*$/m, `DTSTAMP:${stamp}`);
}

const icsLocal = (dt: DateTime) => dt.toFormat("yyyyMMdd'T'HHmmss");
const icsOffset = (minutes: number) => {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
};

/**
 * A VTIMEZONE for `zone` covering the year around `around`: one STANDARD/DAYLIGHT component per
 * offset change (found with luxon's tz data), which Outlook needs to place a TZID time.
 */
export function vtimezone(zone: string, around: Date): string {
  const from = DateTime.fromJSDate(around, { zone }).minus({ months: 13 }).startOf('day');
  const to = from.plus({ months: 26 });
  const lines = ['BEGIN:VTIMEZONE', `TZID:${zone}`];
  let previous = from;
  let changes = 0;
  for (let day = from.plus({ days: 1 }); day <= to; day = day.plus({ days: 1 })) {
    if (day.offset === previous.offset) {
      previous = day;
      continue;
    }
    // Narrow to the minute at which the offset changed.
    let lo = previous.toMillis();
    let hi = day.toMillis();
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
      if (DateTime.fromMillis(mid, { zone }).offset === previous.offset) lo = mid;
      else hi = mid;
    }
    const after = DateTime.fromMillis(hi, { zone });
    const kind = after.isInDST ? 'DAYLIGHT' : 'STANDARD';
    lines.push(
      `BEGIN:${kind}`,
      // DTSTART of a transition is the local time before it (RFC 5545, 3.6.5).
      `DTSTART:${icsLocal(DateTime.fromMillis(hi, { zone: FixedOffsetZone.instance(previous.offset) }))}`,
      `TZOFFSETFROM:${icsOffset(previous.offset)}`,
      `TZOFFSETTO:${icsOffset(after.offset)}`,
      `TZNAME:${after.offsetNameShort ?? zone}`,
      `END:${kind}`,
    );
    changes += 1;
    previous = day;
  }
  if (changes === 0) {
    const at = DateTime.fromJSDate(around, { zone });
    lines.push(
      'BEGIN:STANDARD',
      'DTSTART:19700101T000000',
      `TZOFFSETFROM:${icsOffset(at.offset)}`,
      `TZOFFSETTO:${icsOffset(at.offset)}`,
      `TZNAME:${at.offsetNameShort ?? zone}`,
      'END:STANDARD',
    );
  }
  lines.push('END:VTIMEZONE');
  return lines.join('\r\n');
}
