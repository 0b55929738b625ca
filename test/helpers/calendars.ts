import type {
  CalendarEventInput,
  CalendarProvider,
  SyncResult,
} from '../../src/calendars/calendar-provider.ts';
import type { CalendarProviders } from '../../src/calendars/calendar-sync.service.ts';
import type { PersonProfile } from '../../src/db/schema.ts';
import type { EnrichmentProvider } from '../../src/enrichment/enrichment-provider.ts';

/**
 * An in-memory calendar vendor for pipeline tests: each rep's events by email, served as full
 * syncs; `fail` makes the next sync of a rep throw (credential revoked, outage).
 */
export class FakeCalendarProvider implements CalendarProvider {
  readonly name = 'ics' as const;
  readonly events = new Map<string, CalendarEventInput[]>();
  readonly fail = new Map<string, Error>();
  calls = 0;

  async sync(connection: { repEmail: string }): Promise<SyncResult> {
    this.calls++;
    const error = this.fail.get(connection.repEmail);
    if (error) throw error;
    return { full: true, events: this.events.get(connection.repEmail) ?? [], removed: [], state: {} };
  }
}

export function fakeProviders(fake: FakeCalendarProvider): CalendarProviders {
  return { ics: fake, google: fake, microsoft: fake } as unknown as CalendarProviders;
}

export class FakeEnrichment implements EnrichmentProvider {
  readonly name = 'fake';
  readonly calls: string[] = [];
  constructor(private readonly profiles: Record<string, PersonProfile | null> = {}) {}
  /** Emails whose lookup throws this error (a vendor out of credits, an outage). */
  readonly fail = new Map<string, Error>();
  async lookup(email: string): Promise<PersonProfile | null> {
    this.calls.push(email);
    const error = this.fail.get(email);
    if (error) throw error;
    return this.profiles[email] ?? null;
  }
}

export function meeting(
  id: string,
  startsAt: string,
  minutes: number,
  attendees: string[],
  extra: Partial<CalendarEventInput> = {},
): CalendarEventInput {
  const start = new Date(startsAt);
  return {
    externalId: id,
    title: extra.title ?? `Meeting ${id}`,
    startsAt: start,
    endsAt: new Date(start.getTime() + minutes * 60_000),
    allDay: false,
    status: 'confirmed',
    attendees: attendees.map((email) => ({ email, name: email.split('@')[0] })),
    ...extra,
  };
}
