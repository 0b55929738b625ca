import { Client, HTTPMessageHandler, ResponseType } from '@microsoft/microsoft-graph-client';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { CalendarSyncState, EventPerson } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { rateLimitWaitSeconds } from '../../shared/retry-after.ts';
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
import { ianaZoneFor } from '../time-zones.ts';
import { MicrosoftAuth } from './microsoft-auth.ts';

export interface MicrosoftCalendarProviderOptions {
  /** GRAPH_BASE_URL, https://graph.microsoft.com in production. */
  baseUrl: string;
  /** MICROSOFT_LOGIN_BASE_URL, https://login.microsoftonline.com in production. */
  loginBaseUrl: string;
  /** Entra tenant of the app registration; app-only needs it, delegated falls back to "common". */
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  timeoutMs: number;
  /** Prefer: odata.maxpagesize. */
  pageSize?: number;
  /** Retries of one request answered 429/503/504, honouring Retry-After (3 by default). */
  maxRetries?: number;
  /** Injectable for tests; production waits on a timer. */
  sleep?: (ms: number) => Promise<void>;
}

const VENDOR = 'Microsoft Graph';
const GRAPH_VERSION = 'v1.0';
const MAX_PAGES = 400;
/** Statuses Graph answers when throttling or briefly down (learn.microsoft.com/graph/throttling). */
const RETRY_STATUSES = new Set([429, 503, 504]);
/** A longer Retry-After is left to the job queue rather than holding a worker. */
const MAX_WAIT_SECONDS = 60;
/** Codes meaning the delta token is no longer honoured (VENDOR-FACTS §3). */
const RESYNC_CODES = new Set(['syncstatenotfound', 'resyncrequired', 'syncstateinvalid']);

const optionalText = z.string().nullish();

const deltaPage = z.object({
  value: z.array(z.unknown()),
  '@odata.nextLink': optionalText,
  '@odata.deltaLink': optionalText,
});

const eventRef = z.object({
  id: z.string().min(1),
  '@removed': z.unknown().optional(),
  isCancelled: z.boolean().nullish(),
});

const dateTimeTimeZone = z.object({ dateTime: z.string().min(1), timeZone: optionalText });
const emailAddress = z.object({ address: z.string().min(1), name: optionalText });

const graphAttendee = z.object({
  type: optionalText,
  emailAddress,
  status: z.object({ response: optionalText }).nullish().catch(undefined),
});

const graphEvent = z.object({
  id: z.string().min(1),
  subject: optionalText,
  bodyPreview: optionalText,
  body: z.object({ content: optionalText }).nullish().catch(undefined),
  location: z.object({ displayName: optionalText }).nullish().catch(undefined),
  start: dateTimeTimeZone,
  end: dateTimeTimeZone.nullish().catch(undefined),
  isAllDay: z.boolean().nullish(),
  showAs: optionalText,
  isOrganizer: z.boolean().nullish(),
  onlineMeeting: z.object({ joinUrl: optionalText }).nullish().catch(undefined),
  onlineMeetingUrl: optionalText,
  organizer: z.object({ emailAddress }).nullish().catch(undefined),
  attendees: z.array(z.unknown()).nullish().catch(undefined),
  responseStatus: z.object({ response: optionalText }).nullish().catch(undefined),
});

const graphErrorBody = z.object({
  error: z.object({
    code: optionalText,
    message: optionalText,
    innerError: z.object({ code: optionalText }).nullish().catch(undefined),
  }),
});

/** The access token in use for one sync; replaced once if Graph refuses a cached one. */
interface Session {
  token: string;
  /** A token fetched past any cache (after Graph answered 401). */
  renew: () => Promise<string>;
  refreshedAfter401: boolean;
}

/**
 * Microsoft Graph calendarView delta (VENDOR-FACTS §3). The window is fixed when the delta round
 * opens: its parameters live inside the opaque nextLink/deltaLink, so an incremental sync only
 * calls the stored link. The Graph client runs with a bare middleware chain: its default chain
 * retries on its own timer (we need Retry-After through an injectable sleep) and signs only
 * https Graph hosts (GRAPH_BASE_URL may be a plain-http fake).
 */
export class MicrosoftCalendarProvider implements CalendarProvider {
  readonly name = 'microsoft' as const;
  readonly auth: MicrosoftAuth;
  private readonly client: Client;
  private readonly baseUrl: string;
  private readonly prefer: string;
  private readonly maxRetries: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: MicrosoftCalendarProviderOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.prefer = `odata.maxpagesize=${options.pageSize ?? 100}, outlook.timezone="UTC"`;
    this.maxRetries = options.maxRetries ?? 3;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.auth = new MicrosoftAuth({
      loginBaseUrl: options.loginBaseUrl,
      tenantId: options.tenantId,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      timeoutMs: options.timeoutMs,
    });
    this.client = Client.initWithMiddleware({
      baseUrl: this.baseUrl,
      defaultVersion: GRAPH_VERSION,
      middleware: new HTTPMessageHandler(),
    });
  }

  async sync(
    connection: CalendarConnectionRef,
    state: CalendarSyncState,
    window: SyncWindow,
  ): Promise<SyncResult> {
    const session = await this.session(connection);
    const full = !state.deltaLink;
    const user = encodeURIComponent(connection.calendarId ?? connection.repEmail);
    let path = state.deltaLink
      ? this.relative(state.deltaLink)
      : `/users/${user}/calendarView/delta?startDateTime=${encodeURIComponent(window.start.toISOString())}` +
        `&endDateTime=${encodeURIComponent(window.end.toISOString())}`;
    const repEmail = connection.repEmail.toLowerCase();
    // Delta may replay an entity within one round: the last occurrence is the current one.
    const changes = new Map<string, CalendarEventInput | null>();
    for (let pages = 1; ; pages += 1) {
      const page = deltaPage.safeParse(await this.get(path, session));
      if (!page.success) throw vendorUnavailable(VENDOR, 'calendarView/delta answered garbage');
      for (const item of page.data.value) collect(changes, item, repEmail);
      const next = page.data['@odata.nextLink'];
      if (next) {
        if (pages >= MAX_PAGES) throw vendorUnavailable(VENDOR, `more than ${MAX_PAGES} pages of events`);
        path = this.relative(next);
        continue;
      }
      const deltaLink = page.data['@odata.deltaLink'];
      if (!deltaLink) throw vendorUnavailable(VENDOR, 'last delta page carried no deltaLink');
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
        state: full
          ? { deltaLink, windowStart: window.start.toISOString(), windowEnd: window.end.toISOString() }
          : { ...state, deltaLink },
        ...(!full && events.length === 0 && removed.length === 0 ? { unchanged: true } : {}),
      };
    }
  }

  /**
   * App-only: MSAL client credentials. Delegated: the rep's stored MSAL token cache; whatever
   * MSAL changes in it (a new access token, a rotated refresh token) is saved through the
   * connection at once, and a second token call in the same sync starts from what was saved.
   */
  private async session(connection: CalendarConnectionRef): Promise<Session> {
    if (connection.authKind === 'app') {
      return {
        token: await this.auth.appToken(),
        renew: async () => {
          this.auth.resetAppToken();
          return this.auth.appToken();
        },
        refreshedAfter401: false,
      };
    }
    if (connection.authKind === 'delegated') {
      let credentials = connection.credentials;
      const save = async (next: Record<string, string>) => {
        credentials = next;
        await connection.saveCredentials?.(next);
      };
      return {
        token: await this.auth.delegatedToken(credentials, save),
        renew: () => this.auth.delegatedToken(credentials, save, true),
        refreshedAfter401: false,
      };
    }
    throw new CredentialError(`Microsoft connection has an unknown auth kind "${connection.authKind}"`);
  }

  /** One GET, retried while Graph throttles (429/503/504) for at most maxRetries waits. */
  private async get(path: string, session: Session): Promise<unknown> {
    for (let attempt = 0; ; ) {
      let response: Response;
      let text: string;
      try {
        response = await this.client
          .api(path)
          .header('Authorization', `Bearer ${session.token}`)
          .header('Prefer', this.prefer)
          .option('signal', AbortSignal.timeout(this.options.timeoutMs))
          .responseType(ResponseType.RAW)
          .get();
        text = await response.text();
      } catch (error) {
        const code = (error as { code?: unknown; name?: unknown }).code ?? (error as { name?: unknown }).name;
        // Only our timeout aborts these requests; fetch implementations report it as either name.
        const timedOut = code === 'TimeoutError' || code === 'AbortError';
        throw vendorUnavailable(VENDOR, timedOut ? 'request timed out' : 'network error');
      }
      const body = parseJson(text);
      if (response.ok) return body;
      const status = response.status;
      // A cached token can be revoked before it expires: one fresh token before calling it broken.
      if (status === 401 && !session.refreshedAfter401) {
        session.refreshedAfter401 = true;
        session.token = await session.renew();
        continue;
      }
      const retryAfter = rateLimitWaitSeconds(response.headers);
      if (RETRY_STATUSES.has(status) && attempt < this.maxRetries) {
        const waitSeconds = retryAfter ?? 2 ** attempt;
        if (waitSeconds <= MAX_WAIT_SECONDS) {
          attempt += 1;
          await this.sleep(waitSeconds * 1000);
          continue;
        }
      }
      throw classify(status, body, retryAfter);
    }
  }

  /**
   * Graph's links are absolute; the client wants a path under its base URL. Only the path and
   * query are kept, so our bearer token never follows a link to another host.
   */
  private relative(link: string): string {
    let url: URL;
    try {
      url = new URL(link, `${this.baseUrl}/`);
    } catch {
      throw vendorUnavailable(VENDOR, 'delta link is not a URL');
    }
    let path = url.pathname;
    const basePath = new URL(`${this.baseUrl}/`).pathname.replace(/\/$/, '');
    if (basePath && path.startsWith(`${basePath}/`)) path = path.slice(basePath.length);
    return `${path.replace(/^\/v1\.0(?=\/)/, '')}${url.search}`;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function classify(status: number, body: unknown, retryAfter: number | undefined): Error {
  const parsed = graphErrorBody.safeParse(body);
  const code = parsed.success ? (parsed.data.error.code ?? parsed.data.error.innerError?.code ?? '') : '';
  const detail = `calendarView/delta answered ${status}${code ? ` (${code})` : ''}`;
  if (status === 410 || RESYNC_CODES.has(code.toLowerCase())) {
    return new FullSyncRequiredError(`Graph delta token no longer valid: ${detail}`);
  }
  if (status === 429 || status >= 500) return vendorUnavailable(VENDOR, detail, retryAfter);
  // 403 ErrorAccessDenied (consent or application access policy withdrawn), 404 mailbox gone.
  if (status === 401 || status === 403 || status === 404) {
    return new CredentialError(`Microsoft Graph refused access to the calendar: ${detail}`);
  }
  return new AppError('vendor_error', `${VENDOR} ${detail}`, { retryable: false });
}

/** Adds one delta entry; null marks a removal. Entries that do not parse are skipped. */
function collect(changes: Map<string, CalendarEventInput | null>, item: unknown, repEmail: string): void {
  const ref = eventRef.safeParse(item);
  if (!ref.success) return;
  if (ref.data['@removed'] !== undefined || ref.data.isCancelled) {
    changes.delete(ref.data.id);
    changes.set(ref.data.id, null);
    return;
  }
  const event = toEvent(item, repEmail);
  if (!event) return;
  changes.delete(event.externalId);
  changes.set(event.externalId, event);
}

const ATTENDEE_RESPONSES: Record<string, string> = {
  accepted: 'accepted',
  declined: 'declined',
  tentativelyAccepted: 'tentative',
  none: 'needsAction',
  notResponded: 'needsAction',
  organizer: 'accepted',
};

function toEvent(item: unknown, repEmail: string): CalendarEventInput | undefined {
  const parsed = graphEvent.safeParse(item);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  const allDay = e.isAllDay === true;
  const startsAt = toInstant(e.start, allDay);
  if (!startsAt) return undefined;
  const end = e.end ? toInstant(e.end, allDay) : undefined;
  let endsAt = end ?? new Date(startsAt.getTime() + (allDay ? 86_400_000 : 0));
  if (endsAt < startsAt) endsAt = startsAt;

  const organizerEmail = e.organizer?.emailAddress.address.toLowerCase();
  const attendees: EventPerson[] = [];
  for (const raw of e.attendees ?? []) {
    const attendee = graphAttendee.safeParse(raw);
    // Rooms and equipment are attendees of type "resource", not people to brief on.
    if (!attendee.success || attendee.data.type === 'resource') continue;
    const a = attendee.data;
    const email = a.emailAddress.address.toLowerCase();
    const response = a.status?.response ?? undefined;
    const mapped = response ? ATTENDEE_RESPONSES[response] : undefined;
    attendees.push({
      email,
      ...(a.emailAddress.name ? { name: a.emailAddress.name } : {}),
      ...(mapped ? { response: mapped } : {}),
      ...(response === 'organizer' || email === organizerEmail ? { organizer: true } : {}),
      ...(email === repEmail ? { self: true } : {}),
    });
  }
  const repOrganizes = e.isOrganizer === true || organizerEmail === repEmail;
  const ownResponse = e.responseStatus?.response ?? undefined;
  const selfResponse = !repOrganizes && ownResponse ? ATTENDEE_RESPONSES[ownResponse] : undefined;
  const location = e.location?.displayName || undefined;
  const description = e.bodyPreview || undefined;
  const videoUrl =
    e.onlineMeeting?.joinUrl || e.onlineMeetingUrl || findVideoUrl(location, description, e.body?.content);
  return {
    externalId: e.id,
    title: e.subject || '(no title)',
    ...(description ? { description } : {}),
    ...(location ? { location } : {}),
    ...(videoUrl ? { videoUrl } : {}),
    startsAt,
    endsAt,
    allDay,
    status: e.showAs === 'tentative' ? 'tentative' : 'confirmed',
    ...(selfResponse ? { selfResponse } : {}),
    ...(e.organizer
      ? {
          organizer: {
            email: e.organizer.emailAddress.address.toLowerCase(),
            ...(e.organizer.emailAddress.name ? { name: e.organizer.emailAddress.name } : {}),
            ...(repOrganizes ? { self: true } : {}),
          },
        }
      : {}),
    attendees,
  };
}

/**
 * Graph's dateTimeTimeZone has no offset ("2026-11-24T14:00:00.0000000") and names its zone
 * separately, in IANA or Windows form. All-day events are dates: kept as UTC midnight like Google's.
 */
function toInstant(value: z.infer<typeof dateTimeTimeZone>, allDay: boolean): Date | undefined {
  if (allDay) {
    const date = /^(\d{4}-\d{2}-\d{2})/.exec(value.dateTime)?.[1];
    const at = date ? new Date(`${date}T00:00:00.000Z`) : undefined;
    return at && !Number.isNaN(at.getTime()) ? at : undefined;
  }
  if (/(?:Z|[+-]\d{2}:?\d{2})$/i.test(value.dateTime)) {
    const withOffset = DateTime.fromISO(value.dateTime, { setZone: true });
    return withOffset.isValid ? withOffset.toJSDate() : undefined;
  }
  // We ask for UTC (Prefer: outlook.timezone), so a named zone only matters when Graph ignores it;
  // it may then be an IANA or a Windows name.
  const zone = value.timeZone ? (ianaZoneFor(value.timeZone) ?? value.timeZone) : 'UTC';
  let local = DateTime.fromISO(value.dateTime, { zone });
  // A zone name we cannot map: UTC is what we asked Graph for, so it is the likeliest reading.
  if (!local.isValid && local.invalidReason === 'unsupported zone')
    local = DateTime.fromISO(value.dateTime, { zone: 'UTC' });
  return local.isValid ? local.toJSDate() : undefined;
}
