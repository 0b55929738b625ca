import { DateTime } from 'luxon';
import type { MirrorEvent } from '../calendars/calendar.repository.ts';
import type { PersonProfile } from '../db/schema.ts';
import type { BriefingAttendee, BriefingMeeting, BriefingModel } from './briefing.model.ts';

/** An attendee is internal when their domain (or a parent domain) is one of the company's. */
export function isInternal(email: string, companyDomains: readonly string[]): boolean {
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return companyDomains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

/** COMPANY_DOMAINS, or the rep's own domain when it is not configured. */
export function companyDomainsFor(repEmail: string, configured: readonly string[]): string[] {
  if (configured.length > 0) return [...configured];
  return [repEmail.slice(repEmail.lastIndexOf('@') + 1).toLowerCase()];
}

/** The timed meetings a briefing covers (declined ones are the rep's own "no"). */
export function briefingMeetings(events: MirrorEvent[], window: { start: Date; end: Date }): MirrorEvent[] {
  return events.filter(
    (e) =>
      !e.all_day &&
      e.self_response !== 'declined' &&
      e.starts_at.getTime() >= window.start.getTime() &&
      e.starts_at.getTime() < window.end.getTime(),
  );
}

/** External attendees' emails of the given meetings, lower-cased and unique. */
export function externalEmails(
  events: MirrorEvent[],
  repEmail: string,
  companyDomains: readonly string[],
): string[] {
  const own = repEmail.toLowerCase();
  const emails = new Set<string>();
  for (const event of events) {
    for (const person of event.attendees) {
      const email = person.email.toLowerCase();
      if (email !== own && !isInternal(email, companyDomains)) emails.add(email);
    }
  }
  return [...emails];
}

/**
 * Builds the briefing from the mirror (pure): meetings starting in the window, earliest first,
 * external attendees first, enriched where a profile is known; all-day events of the local date.
 */
export function buildBriefing(input: {
  rep: { name: string; email: string };
  timeZone: string;
  localDate: string;
  window: { start: Date; end: Date };
  events: MirrorEvent[];
  companyDomains: readonly string[];
  profiles: Map<string, PersonProfile | null>;
  metBefore: Set<string>;
  enrichmentNote?: string;
}): BriefingModel {
  const own = input.rep.email.toLowerCase();
  const meetings: BriefingMeeting[] = briefingMeetings(input.events, input.window).map((event) => {
    const attendees: BriefingAttendee[] = event.attendees
      .filter((person) => person.email.toLowerCase() !== own && !person.self)
      .map((person) => {
        const email = person.email.toLowerCase();
        const external = !isInternal(email, input.companyDomains);
        const profile = external ? input.profiles.get(email) : undefined;
        return {
          email,
          name: profile?.name ?? person.name,
          external,
          firstMeeting: !input.metBefore.has(email),
          ...(profile
            ? {
                title: profile.title,
                company: profile.company,
                companySize: profile.companySize,
                industry: profile.industry,
                location: profile.location,
                linkedinUrl: profile.linkedinUrl,
              }
            : {}),
        };
      })
      .sort((a, b) => Number(b.external) - Number(a.external));
    return {
      title: event.title || '(no title)',
      startsAt: event.starts_at.toISOString(),
      endsAt: event.ends_at.toISOString(),
      location: event.location ?? undefined,
      videoUrl: event.video_url ?? undefined,
      organizer: event.organizer ? { email: event.organizer.email, name: event.organizer.name } : undefined,
      response: event.self_response ?? undefined,
      attendees,
    };
  });
  const day = DateTime.fromISO(input.localDate, { zone: 'UTC' });
  const dayStart = day.toMillis();
  const allDay = input.events
    .filter(
      (e) =>
        e.all_day &&
        e.self_response !== 'declined' &&
        e.starts_at.getTime() <= dayStart &&
        e.ends_at.getTime() > dayStart,
    )
    .map((e) => ({
      title: e.title || '(no title)',
      startDate: DateTime.fromJSDate(e.starts_at, { zone: 'UTC' }).toISODate() ?? input.localDate,
      endDate:
        DateTime.fromJSDate(new Date(e.ends_at.getTime() - 86_400_000), { zone: 'UTC' }).toISODate() ??
        input.localDate,
    }));
  return {
    rep: input.rep,
    timeZone: input.timeZone,
    localDate: input.localDate,
    windowStart: input.window.start.toISOString(),
    windowEnd: input.window.end.toISOString(),
    meetings,
    allDay,
    ...(input.enrichmentNote ? { enrichmentNote: input.enrichmentNote } : {}),
  };
}
