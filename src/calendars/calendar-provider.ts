import type { CalendarSyncState, EventPerson } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/**
 * One calendar vendor behind one interface (cal.com's `Calendar` idea). An adapter turns vendor
 * data into `CalendarEventInput`s and reports what changed since the cursor in `state`; the
 * sync service (calendar-sync.service.ts) applies that to the local mirror and stores the new
 * cursor. Adapters never touch the database.
 */
export interface CalendarProvider {
  readonly name: 'google' | 'microsoft' | 'ics';
  sync(connection: CalendarConnectionRef, state: CalendarSyncState, window: SyncWindow): Promise<SyncResult>;
}

export interface CalendarConnectionRef {
  /** Rep's email: the calendar to read when calendarId is null (service account / app-only). */
  repEmail: string;
  calendarId: string | null;
  authKind: string;
  /** Decrypted credentials (refresh token, ICS URL...). Never logged, never put in a job. */
  credentials: Record<string, string>;
  /** The rep's IANA zone: ICS floating times (no Z, no TZID) and undefined TZIDs are read in it. */
  timeZone?: string;
  /**
   * Replaces the stored credentials (sealed by the caller). Adapters call it as soon as a vendor
   * issues a new credential (Entra rotates refresh tokens on use), before anything else can fail,
   * so a connection never keeps a grant the vendor has already superseded.
   */
  saveCredentials?: (credentials: Record<string, string>) => Promise<void>;
}

/** The span a full sync asks for; incremental syncs keep the span their cursor was opened with. */
export interface SyncWindow {
  start: Date;
  end: Date;
}

export interface CalendarEventInput {
  externalId: string;
  title: string;
  description?: string;
  location?: string;
  videoUrl?: string;
  startsAt: Date;
  endsAt: Date;
  allDay: boolean;
  status: 'confirmed' | 'tentative';
  /** The rep's own answer, when the rep is an attendee. */
  selfResponse?: string;
  organizer?: EventPerson;
  attendees: EventPerson[];
}

export interface SyncResult {
  /**
   * true: `events` is the whole calendar in the window (full sync, 410 recovery, or an ICS feed
   * that changed); the mirror drops whatever is not in it. false: `events` and `removed` are
   * changes only.
   */
  full: boolean;
  events: CalendarEventInput[];
  /** External ids deleted or cancelled since the cursor. */
  removed: string[];
  /** The cursor to store for next time. */
  state: CalendarSyncState;
  /** ICS 304 Not Modified (or an empty delta): nothing to apply. */
  unchanged?: boolean;
  /** Things the rep's admin should know about the feed (an unknown zone name); no secrets. */
  warnings?: string[];
}

/**
 * The credential no longer works (revoked, expired, consent withdrawn, feed URL gone): the
 * connection is marked broken and the rep told how to reconnect. Not retried.
 */
export class CredentialError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('unauthorized', message, { retryable: false, cause: options.cause });
    this.name = 'CredentialError';
  }
}

/**
 * The stored cursor is no longer valid (Google 410 fullSyncRequired, Graph syncStateNotFound /
 * 410): the adapter may throw this for the sync service to clear the mirror and resync in full.
 */
export class FullSyncRequiredError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('conflict', message, { retryable: true, cause: options.cause });
    this.name = 'FullSyncRequiredError';
  }
}

/** Throttled or down: retried with backoff (honouring retryAfterSeconds) without blocking other reps. */
export function vendorUnavailable(vendor: string, detail: string, retryAfterSeconds?: number): AppError {
  return new AppError('unavailable', `${vendor} is unavailable: ${detail}`, {
    retryable: true,
    retryAfterSeconds,
  });
}

/** Video links people paste into locations and descriptions (Meet, Zoom, Teams, Webex). */
const VIDEO_URL =
  /https:\/\/(?:meet\.google\.com\/[a-z0-9-]+|[\w.-]*zoom\.us\/[^\s<>"]+|teams\.microsoft\.com\/[^\s<>"]+|[\w.-]*webex\.com\/[^\s<>"]+)/i;

export function findVideoUrl(...texts: (string | undefined | null)[]): string | undefined {
  for (const text of texts) {
    const match = text ? VIDEO_URL.exec(text) : null;
    if (match) return match[0];
  }
  return undefined;
}
