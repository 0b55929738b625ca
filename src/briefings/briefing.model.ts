/**
 * What a briefing says, independent of how it is shown: the React Email template
 * (emails/briefing.tsx) and the Slack blocks (blocks/briefing.ts) both render this, and it is
 * stored as `briefings.content`. Times are ISO instants plus the rep's zone; renderers format
 * them with luxon in that zone.
 */
export interface BriefingModel {
  rep: { name: string; email: string };
  timeZone: string;
  /** The rep's local date the briefing is for (YYYY-MM-DD). */
  localDate: string;
  /** The span covered: [windowStart, windowEnd). */
  windowStart: string;
  windowEnd: string;
  meetings: BriefingMeeting[];
  /** All-day events overlapping the window, listed apart. */
  allDay: BriefingAllDayEvent[];
  /** Appointments booked with Briefly in the window (src/appointments), with their notes. */
  appointments?: BriefingAppointment[];
  /** Set when enrichment was unavailable (quota, outage): attendees show what the calendar knows. */
  enrichmentNote?: string;
}

export interface BriefingMeeting {
  title: string;
  startsAt: string;
  endsAt: string;
  location?: string;
  videoUrl?: string;
  organizer?: { name?: string; email: string };
  /** The rep's answer: accepted | tentative | needsAction (declined meetings are left out). */
  response?: string;
  attendees: BriefingAttendee[];
}

export interface BriefingAttendee {
  email: string;
  name?: string;
  external: boolean;
  /** true when no earlier meeting in the mirror had this attendee. */
  firstMeeting: boolean;
  title?: string;
  company?: string;
  companySize?: string;
  industry?: string;
  location?: string;
  linkedinUrl?: string;
}

export interface BriefingAllDayEvent {
  title: string;
  /** Inclusive local dates. */
  startDate: string;
  endDate: string;
}

export interface BriefingAppointment {
  serviceName: string;
  attendee: { name: string; email: string };
  startsAt: string;
  endsAt: string;
  location?: string;
  notes: { title: string; body: string }[];
}
