import { calendar, auth as googleAuth } from '@googleapis/calendar';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { CalendarSyncState, EventPerson } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { type HeaderSource, rateLimitWaitSeconds } from '../../shared/retry-after.ts';
import {
  type CalendarConnectionRef,
  type CalendarEventInput,
  type CalendarProvider,
  CredentialError,
  FullSyncRequiredError,
  findVideoUrl,
  type SyncResult,
  type SyncWindow,
  vendorUnavailable,
} from '../calendar-provider.ts';
import { GoogleAuth } from './google-auth.ts';

export interface GoogleCalendarProviderOptions {
  /** GOOGLE_BASE_URL, https://www.googleapis.com in production. */
  baseUrl: string;
  /** GOOGLE_TOKEN_URL, https://oauth2.googleapis.com/token in production. */
  tokenUrl: string;
  /** GOOGLE_AUTH_BASE_URL, https://accounts.google.com in production (consent links). */
  authBaseUrl?: string;
  /** Workspace service account with domain-wide delegation (authKind 'service_account'). */
  serviceAccount?: { client_email: string; private_key: string };
  /** OAuth client the reps consented to (authKind 'oauth'). */
  oauthClient?: { clientId: string; clientSecret: string };
  timeoutMs: number;
  /** events.list maxResults: 250 by default, 2500 at most. */
  pageSize?: number;
}

const VENDOR = 'Google Calendar';
/** A vendor that keeps handing out page tokens would otherwise hold a worker forever. */
const MAX_PAGES = 400;
/** 403 reasons that mean "slow down", not "no access" (developers.google.com/workspace/calendar/api/guides/errors). */
const THROTTLE_REASONS = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'quotaExceeded',
  'dailyLimitExceeded',
]);
const RESPONSES = new Set(['accepted', 'declined', 'tentative', 'needsAction']);

const optionalText = z.string().nullish();

const eventsPage = z.object({
  items: z.array(z.unknown()).nullish(),
  nextPageToken: optionalText,
  nextSyncToken: optionalText,
});

const eventRef = z.object({ id: z.string().min(1), status: optionalText, eventType: optionalText });

const eventTime = z.object({ date: optionalText, dateTime: optionalText, timeZone: optionalText });

const googleAttendee = z.object({
  email: z.string().min(1),
  displayName: optionalText,
  responseStatus: optionalText,
  organizer: z.boolean().nullish(),
  self: z.boolean().nullish(),
  resource: z.boolean().nullish(),
});

const googleEvent = z.object({
  id: z.string().min(1),
  status: optionalText,
  summary: optionalText,
  description: optionalText,
  location: optionalText,
  hangoutLink: optionalText,
  conferenceData: z
    .object({
      entryPoints: z.array(z.object({ entryPointType: optionalText, uri: optionalText })).nullish(),
    })
    .nullish()
    .catch(undefined),
  start: eventTime,
  end: eventTime.nullish().catch(undefined),
  organizer: z
    .object({ email: z.string().min(1), displayName: optionalText, self: z.boolean().nullish() })
    .nullish()
    .catch(undefined),
  attendees: z.array(z.unknown()).nullish().catch(undefined),
});

const googleErrorBody = z.object({
  error: z.object({
    message: optionalText,
    status: optionalText,
    errors: z.array(z.object({ reason: optionalText })).nullish(),
  }),
});

/** What a rejected gaxios request looks like; duck-typed because gaxios is not our dependency. */
interface GaxiosLikeError {
  config?: unknown;
  code?: unknown;
  status?: unknown;
  response?: { status?: number; headers?: unknown; data?: unknown };
}

interface Grant {
  calendarId: string;
  token: () => Promise<string>;
  /** Drops the cached token, so `token` asks Google again (after a 401). */
  forget: () => void;
}

/**
 * Google Calendar events.list with incremental sync (VENDOR-FACTS §2). A full sync lists from the
 * window's start with no upper bound, because a sync token keeps the parameters of the sync that
 * issued it: the future must already be in it. Tokens come from google-auth-library (JWT for the
 * service account, OAuth2Client for a rep's refresh token), cached per grant (google-auth.ts).
 */
export class GoogleCalendarProvider implements CalendarProvider {
  readonly name = 'google' as const;
  readonly auth: GoogleAuth;
  private readonly rootUrl: string;
  private readonly pageSize: number;

  constructor(private readonly options: GoogleCalendarProviderOptions) {
    this.rootUrl = `${options.baseUrl.replace(/\/+$/, '')}/`;
    this.pageSize = Math.min(Math.max(options.pageSize ?? 250, 1), 2500);
    this.auth = new GoogleAuth({
      tokenUrl: options.tokenUrl,
      authBaseUrl: options.authBaseUrl,
      serviceAccount: options.serviceAccount,
      oauthClient: options.oauthClient,
      timeoutMs: options.timeoutMs,
    });
  }

  async sync(
    connection: CalendarConnectionRef,
    state: CalendarSyncState,
    window: SyncWindow,
  ): Promise<SyncResult> {
    const grant = this.grant(connection);
    const authClient = new googleAuth.OAuth2();
    authClient.setCredentials({ access_token: await grant.token() });
    const api = calendar({ version: 'v3', auth: authClient, rootUrl: this.rootUrl });

    const full = !state.syncToken;
    const windowStart = full ? window.start.toISOString() : state.windowStart;
    const cursor = full ? { timeMin: window.start.toISOString() } : { syncToken: state.syncToken };
    // Later pages of the same sync repeat the first request's parameters plus pageToken.
    const changes = new Map<string, CalendarEventInput | null>();
    let pageToken: string | undefined;
    let retriedAuth = false;
    for (let pages = 0; ; ) {
      let data: unknown;
      try {
        const response = await api.events.list(
          {
            calendarId: grant.calendarId,
            singleEvents: true,
            maxResults: this.pageSize,
            ...cursor,
            ...(pageToken ? { pageToken } : {}),
          },
          { timeout: this.options.timeoutMs, retry: false },
        );
        data = response.data;
      } catch (error) {
        // A cached token can be revoked before it expires: one fresh token before calling it broken.
        if (httpStatus(error) === 401 && !retriedAuth) {
          retriedAuth = true;
          grant.forget();
          authClient.setCredentials({ access_token: await grant.token() });
          continue;
        }
        throw classify(error);
      }
      const page = eventsPage.safeParse(data);
      if (!page.success) throw vendorUnavailable(VENDOR, 'events.list answered garbage');
      for (const item of page.data.items ?? []) collect(changes, item);
      pages += 1;
      if (page.data.nextPageToken) {
        if (pages >= MAX_PAGES) throw vendorUnavailable(VENDOR, `more than ${MAX_PAGES} pages of events`);
        pageToken = page.data.nextPageToken;
        continue;
      }
      if (!page.data.nextSyncToken) throw vendorUnavailable(VENDOR, 'last page carried no nextSyncToken');
      const events: CalendarEventInput[] = [];
      const removed: string[] = [];
      for (const [id, event] of changes) {
        if (event) events.push(event);
        else removed.push(id);
      }
      return {
        full,
        events,
        removed,
        state: { syncToken: page.data.nextSyncToken, ...(windowStart ? { windowStart } : {}) },
        ...(!full && events.length === 0 && removed.length === 0 ? { unchanged: true } : {}),
      };
    }
  }

  private grant(connection: CalendarConnectionRef): Grant {
    if (connection.authKind === 'service_account') {
      const calendarId = connection.calendarId ?? connection.repEmail;
      // Domain-wide delegation impersonates a user: a secondary or resource calendar id
      // (…@group.calendar.google.com) cannot be impersonated, so the rep reads it as themself.
      const subject = /calendar\.google\.com$/i.test(calendarId) ? connection.repEmail : calendarId;
      return {
        calendarId,
        token: () => this.auth.serviceAccountToken(subject),
        forget: () => this.auth.forgetServiceAccount(subject),
      };
    }
    if (connection.authKind === 'oauth') {
      const refreshToken = connection.credentials.refresh_token;
      if (!refreshToken) throw new CredentialError('Google connection has no refresh token stored');
      return {
        calendarId: connection.calendarId ?? 'primary',
        token: () => this.auth.refreshTokenToken(refreshToken),
        forget: () => this.auth.forgetRefreshToken(refreshToken),
      };
    }
    throw new CredentialError(`Google connection has an unknown auth kind "${connection.authKind}"`);
  }
}

/** Adds one events.list entry; null marks a removal. Entries that do not parse are skipped. */
function collect(changes: Map<string, CalendarEventInput | null>, item: unknown): void {
  const ref = eventRef.safeParse(item);
  if (!ref.success) return;
  // Cancelled entries guarantee only their id (VENDOR-FACTS §2).
  if (ref.data.status === 'cancelled') {
    changes.set(ref.data.id, null);
    return;
  }
  // Working-location entries are all-day markers ("Home", "Office"), not meetings.
  if (ref.data.eventType === 'workingLocation') return;
  const event = toEvent(item);
  if (event) changes.set(event.externalId, event);
}

function toEvent(item: unknown): CalendarEventInput | undefined {
  const parsed = googleEvent.safeParse(item);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  const start = toInstant(e.start);
  if (!start) return undefined;
  const end = e.end ? toInstant(e.end) : undefined;
  let endsAt =
    end && end.allDay === start.allDay
      ? end.at
      : new Date(start.at.getTime() + (start.allDay ? 86_400_000 : 0));
  if (endsAt < start.at) endsAt = start.at;

  const attendees: EventPerson[] = [];
  for (const raw of e.attendees ?? []) {
    const attendee = googleAttendee.safeParse(raw);
    if (!attendee.success || attendee.data.resource) continue;
    const a = attendee.data;
    attendees.push({
      email: a.email.toLowerCase(),
      ...(a.displayName ? { name: a.displayName } : {}),
      ...(a.responseStatus && RESPONSES.has(a.responseStatus) ? { response: a.responseStatus } : {}),
      ...(a.organizer ? { organizer: true } : {}),
      ...(a.self ? { self: true } : {}),
    });
  }
  const selfResponse = attendees.find((a) => a.self)?.response;
  const videoEntry = e.conferenceData?.entryPoints?.find((p) => p.entryPointType === 'video' && p.uri);
  const videoUrl = e.hangoutLink || videoEntry?.uri || findVideoUrl(e.location, e.description);
  return {
    externalId: e.id,
    title: e.summary || '(no title)',
    ...(e.description ? { description: e.description } : {}),
    ...(e.location ? { location: e.location } : {}),
    ...(videoUrl ? { videoUrl } : {}),
    startsAt: start.at,
    endsAt,
    allDay: start.allDay,
    status: e.status === 'tentative' ? 'tentative' : 'confirmed',
    ...(selfResponse ? { selfResponse } : {}),
    ...(e.organizer
      ? {
          organizer: {
            email: e.organizer.email.toLowerCase(),
            ...(e.organizer.displayName ? { name: e.organizer.displayName } : {}),
            ...(e.organizer.self ? { self: true } : {}),
          },
        }
      : {}),
    attendees,
  };
}

/**
 * Timed entries carry an RFC 3339 dateTime with offset; all-day entries a date whose end is
 * exclusive, kept as UTC midnight so the day does not move with the server's zone.
 */
function toInstant(time: z.infer<typeof eventTime>): { at: Date; allDay: boolean } | undefined {
  if (time.dateTime) {
    const hasOffset = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(time.dateTime);
    const parsed = hasOffset
      ? DateTime.fromISO(time.dateTime, { setZone: true })
      : DateTime.fromISO(time.dateTime, { zone: time.timeZone || 'UTC' });
    return parsed.isValid ? { at: parsed.toJSDate(), allDay: false } : undefined;
  }
  if (time.date && /^\d{4}-\d{2}-\d{2}$/.test(time.date)) {
    const at = new Date(`${time.date}T00:00:00.000Z`);
    return Number.isNaN(at.getTime()) ? undefined : { at, allDay: true };
  }
  return undefined;
}

function httpStatus(error: unknown): number | undefined {
  const status = (error as GaxiosLikeError | undefined)?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

function classify(caught: unknown): Error {
  const error = caught as GaxiosLikeError;
  if (!error || typeof error !== 'object' || !('config' in error)) return caught as Error;
  const status = httpStatus(caught);
  if (status === undefined) {
    // Only our timeout aborts these requests; fetch implementations report it as either name.
    const name = String(error.code ?? (error as { cause?: { name?: unknown } }).cause?.name);
    const why = ['TimeoutError', 'AbortError', 'ETIMEDOUT'].includes(name) ? 'timed out' : 'network error';
    return vendorUnavailable(VENDOR, `events.list ${why}`);
  }
  const body = googleErrorBody.safeParse(error.response?.data);
  const reasons = body.success
    ? (body.data.error.errors ?? []).map((e) => e.reason ?? '').filter(Boolean)
    : [];
  const detail = `events.list answered ${status}${reasons.length ? ` (${reasons.join(', ')})` : ''}`;
  if (status === 410) return new FullSyncRequiredError(`Google sync token no longer valid: ${detail}`);
  if (status === 429 || status >= 500 || (status === 403 && reasons.some((r) => THROTTLE_REASONS.has(r)))) {
    return vendorUnavailable(VENDOR, detail, rateLimitWaitSeconds(error.response?.headers as HeaderSource));
  }
  if (status === 401 || status === 403 || status === 404) {
    return new CredentialError(`Google Calendar refused access to the calendar: ${detail}`);
  }
  return new AppError('vendor_error', `${VENDOR} ${detail}`, { retryable: false });
}
