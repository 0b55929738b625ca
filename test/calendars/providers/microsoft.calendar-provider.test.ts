import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CalendarConnectionRef,
  CredentialError,
  FullSyncRequiredError,
} from '../../../src/calendars/calendar-provider.ts';
import {
  MicrosoftCalendarProvider,
  type MicrosoftCalendarProviderOptions,
} from '../../../src/calendars/providers/microsoft.calendar-provider.ts';

const GRAPH = 'https://graph.test';
const LOGIN = 'https://login.test';
const TENANT = 'tenant-1234';
const DELTA_PATH = '/v1.0/users/rep%40acme.test/calendarView/delta';
const REFRESH_TOKEN = '0.AAAA-delegated-refresh-secret';
const WINDOW = { start: new Date('2026-11-15T00:00:00.000Z'), end: new Date('2026-12-20T00:00:00.000Z') };
const DELTA_LINK =
  'https://graph.microsoft.com/v1.0/users/rep@acme.test/calendarView/delta?$deltatoken=R0usmci39OQxqJrxK4';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/calendars/graph/${name}`, import.meta.url), 'utf8'));

const appConnection: CalendarConnectionRef = {
  repEmail: 'Rep@Acme.test',
  calendarId: 'rep@acme.test',
  authKind: 'app',
  credentials: {},
};
const delegatedConnection: CalendarConnectionRef = {
  repEmail: 'rep@acme.test',
  calendarId: null,
  authKind: 'delegated',
  credentials: { refresh_token: REFRESH_TOKEN },
};

function makeProvider(overrides: Partial<MicrosoftCalendarProviderOptions> = {}) {
  const waits: number[] = [];
  const provider = new MicrosoftCalendarProvider({
    baseUrl: GRAPH,
    loginBaseUrl: LOGIN,
    tenantId: TENANT,
    clientId: 'app-client-id',
    clientSecret: 'app-client-secret',
    timeoutMs: 300,
    pageSize: 2,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...overrides,
  });
  return { provider, waits };
}

/** Answers token requests for the tenant and records each form it receives. */
function tokenEndpoint(forms: Record<string, string>[] = [], times = 1, tenant = TENANT) {
  return nock(LOGIN)
    .post(`/${tenant}/oauth2/v2.0/token`)
    .query(true)
    .times(times)
    .reply(200, (_uri, body) => {
      forms.push(Object.fromEntries(new URLSearchParams(String(body))));
      return {
        token_type: 'Bearer',
        expires_in: 3599,
        ext_expires_in: 3599,
        access_token: `graph-token-${forms.length}`,
      };
    });
}

interface Seen {
  path: string;
  query: URLSearchParams;
  authorization: string;
  prefer: string;
}

function graphAnswer(seen: Seen[], status: number, body: unknown, headers: Record<string, string> = {}) {
  return nock(GRAPH)
    .get(/.*/)
    .reply(function (uri) {
      const url = new URL(uri, GRAPH);
      seen.push({
        path: url.pathname,
        query: url.searchParams,
        authorization: String(this.req.headers.authorization),
        prefer: String(this.req.headers.prefer),
      });
      return [status, body as nock.Body, headers];
    });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the sync to fail');
}

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('MicrosoftCalendarProvider full sync', () => {
  it('when there is no delta link, then calendarView/delta is opened for the window, pages are followed and the delta link is stored', async () => {
    const forms: Record<string, string>[] = [];
    tokenEndpoint(forms);
    const seen: Seen[] = [];
    graphAnswer(seen, 200, fixture('delta-page-1.json'));
    graphAnswer(seen, 200, fixture('delta-page-2.json'));
    const { provider } = makeProvider();

    const result = await provider.sync(appConnection, {}, WINDOW);

    expect(forms).toMatchObject([
      {
        grant_type: 'client_credentials',
        client_id: 'app-client-id',
        client_secret: 'app-client-secret',
        scope: 'https://graph.microsoft.com/.default',
      },
    ]);
    expect(seen).toHaveLength(2);
    expect(seen[0]?.path).toBe(DELTA_PATH);
    expect(Object.fromEntries(seen[0]?.query ?? [])).toEqual({
      startDateTime: '2026-11-15T00:00:00.000Z',
      endDateTime: '2026-12-20T00:00:00.000Z',
    });
    // The nextLink names graph.microsoft.com: it is followed on the configured host, token included.
    expect(seen[1]?.path).toBe('/v1.0/users/rep@acme.test/calendarView/delta');
    expect(Object.fromEntries(seen[1]?.query ?? [])).toEqual({ $skiptoken: 'R0usmcCM996atia_s' });
    for (const request of seen) {
      expect(request.authorization).toBe('Bearer graph-token-1');
      expect(request.prefer).toBe('odata.maxpagesize=2, outlook.timezone="UTC"');
    }

    expect(result.full).toBe(true);
    expect(result.state).toEqual({
      deltaLink: DELTA_LINK,
      windowStart: '2026-11-15T00:00:00.000Z',
      windowEnd: '2026-12-20T00:00:00.000Z',
    });
    expect(result.removed).toEqual([]);
    // The replayed "timed" entry keeps its last version; garbage entries are skipped.
    expect(result.events.map((e) => e.externalId)).toEqual([
      'AAMkAGI2-allday',
      'AAMkAGI2-eastern',
      'AAMkAGI2-timed',
    ]);
    const byId = new Map(result.events.map((e) => [e.externalId, e]));
    expect(byId.get('AAMkAGI2-timed')).toEqual({
      externalId: 'AAMkAGI2-timed',
      title: 'QBR with Contoso (updated)',
      videoUrl: 'https://teams.microsoft.com/l/meetup-join/legacy',
      startsAt: new Date('2026-11-24T16:00:00.000Z'),
      endsAt: new Date('2026-11-24T17:00:00.000Z'),
      allDay: false,
      status: 'confirmed',
      selfResponse: 'accepted',
      organizer: { email: 'adelev@contoso.test', name: 'Adele Vance' },
      attendees: [],
    });
    expect(byId.get('AAMkAGI2-allday')).toMatchObject({
      title: 'Company holiday',
      allDay: true,
      startsAt: new Date('2026-11-26T00:00:00.000Z'),
      endsAt: new Date('2026-11-27T00:00:00.000Z'),
      organizer: { email: 'rep@acme.test', self: true },
    });
    expect(byId.get('AAMkAGI2-allday')?.selfResponse).toBeUndefined();
    // 09:00 "Eastern Standard Time" on 2026-11-25 is EST (UTC-5).
    expect(byId.get('AAMkAGI2-eastern')).toMatchObject({
      startsAt: new Date('2026-11-25T14:00:00.000Z'),
      endsAt: new Date('2026-11-25T14:45:00.000Z'),
      status: 'tentative',
      description: 'Join Zoom https://contoso.zoom.us/j/5551234 now',
      videoUrl: 'https://contoso.zoom.us/j/5551234',
      organizer: { email: 'rep@acme.test', name: 'Rita Rep', self: true },
      attendees: [{ email: 'pat@fabrikam.test', name: 'Pat', response: 'tentative' }],
    });
    expect(byId.get('AAMkAGI2-eastern')?.selfResponse).toBeUndefined();
  });

  it('when an event carries attendees and an online meeting, then they are mapped and rooms are left out', async () => {
    tokenEndpoint();
    const page = fixture('delta-page-1.json') as { value: unknown[] };
    graphAnswer([], 200, { value: page.value, '@odata.deltaLink': DELTA_LINK });
    const { provider } = makeProvider();

    const result = await provider.sync(appConnection, {}, WINDOW);

    expect(result.events.find((e) => e.externalId === 'AAMkAGI2-timed')).toEqual({
      externalId: 'AAMkAGI2-timed',
      title: 'QBR with Contoso',
      description: 'Quarterly review. Dial-in below.',
      location: 'Contoso HQ, Floor 3',
      videoUrl: 'https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0',
      startsAt: new Date('2026-11-24T14:00:00.000Z'),
      endsAt: new Date('2026-11-24T15:00:00.000Z'),
      allDay: false,
      status: 'confirmed',
      selfResponse: 'tentative',
      organizer: { email: 'adelev@contoso.test', name: 'Adele Vance' },
      attendees: [
        { email: 'rep@acme.test', name: 'Rita Rep', response: 'needsAction', self: true },
        { email: 'meganb@contoso.test', name: 'Megan Bowen', response: 'accepted' },
        { email: 'leeg@contoso.test', name: 'Lee Gu', response: 'declined' },
      ],
    });
  });

  it('when app-only syncs run twice, then the token is requested once', async () => {
    const forms: Record<string, string>[] = [];
    tokenEndpoint(forms, 2);
    const seen: Seen[] = [];
    graphAnswer(seen, 200, { value: [], '@odata.deltaLink': DELTA_LINK });
    graphAnswer(seen, 200, { value: [], '@odata.deltaLink': `${DELTA_LINK}-2` });
    const { provider } = makeProvider();

    await provider.sync(appConnection, {}, WINDOW);
    await provider.sync({ ...appConnection, calendarId: 'other@acme.test' }, {}, WINDOW);

    expect(forms).toHaveLength(1);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer graph-token-1', 'Bearer graph-token-1']);
    expect(seen[1]?.path).toBe('/v1.0/users/other%40acme.test/calendarView/delta');
  });
});

describe('MicrosoftCalendarProvider incremental sync', () => {
  it('when a delta link is stored, then it is called as is and removals, cancellations and changes come back', async () => {
    const forms: Record<string, string>[] = [];
    tokenEndpoint(forms, 1, 'common');
    const seen: Seen[] = [];
    graphAnswer(seen, 200, fixture('delta-incremental.json'));
    const { provider } = makeProvider({ tenantId: undefined });
    const state = {
      deltaLink: DELTA_LINK,
      windowStart: '2026-11-15T00:00:00.000Z',
      windowEnd: '2026-12-20T00:00:00.000Z',
    };

    const result = await provider.sync(delegatedConnection, state, WINDOW);

    // A connection stored as a bare refresh token (before MSAL) is redeemed through MSAL.
    expect(forms).toMatchObject([
      {
        grant_type: 'refresh_token',
        refresh_token: REFRESH_TOKEN,
        client_id: 'app-client-id',
        client_secret: 'app-client-secret',
        scope: 'https://graph.microsoft.com/Calendars.Read openid profile offline_access',
      },
    ]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.path).toBe('/v1.0/users/rep@acme.test/calendarView/delta');
    expect(Object.fromEntries(seen[0]?.query ?? [])).toEqual({ $deltatoken: 'R0usmci39OQxqJrxK4' });
    expect(seen[0]?.prefer).toContain('outlook.timezone="UTC"');
    expect(result.full).toBe(false);
    expect(result.removed).toEqual(['AAMkAGI2-allday', 'AAMkAGI2-cancelled', 'AAMkAGI2-outside']);
    expect(result.events).toHaveLength(1);
    expect(result.events[0]).toMatchObject({
      externalId: 'AAMkAGI2-timed',
      title: 'QBR with Contoso (moved)',
      startsAt: new Date('2026-11-24T18:00:00.000Z'),
      selfResponse: 'declined',
    });
    expect(result.state).toEqual({
      ...state,
      deltaLink:
        'https://graph.microsoft.com/v1.0/users/rep@acme.test/calendarView/delta?$deltatoken=NEXT-ROUND-2',
    });
  });

  it('when the delta round is empty, then the result says unchanged and carries the new link', async () => {
    tokenEndpoint();
    graphAnswer([], 200, { value: [], '@odata.deltaLink': `${DELTA_LINK}-next` });
    const { provider } = makeProvider();

    const result = await provider.sync(appConnection, { deltaLink: DELTA_LINK }, WINDOW);

    expect(result).toMatchObject({ full: false, unchanged: true, events: [], removed: [] });
    expect(result.state.deltaLink).toBe(`${DELTA_LINK}-next`);
  });
});

describe('MicrosoftCalendarProvider throttling and errors', () => {
  it('when Graph answers 429 with Retry-After, then it waits that long and retries', async () => {
    tokenEndpoint();
    const seen: Seen[] = [];
    graphAnswer(seen, 429, fixture('error-throttled.json'), { 'Retry-After': '7' });
    graphAnswer(seen, 200, { value: [], '@odata.deltaLink': DELTA_LINK });
    const { provider, waits } = makeProvider();

    const result = await provider.sync(appConnection, {}, WINDOW);

    expect(waits).toEqual([7000]);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.path).toBe(DELTA_PATH);
    expect(result.state.deltaLink).toBe(DELTA_LINK);
  });

  it('when Graph keeps answering 429 beyond maxRetries, then it is unavailable with the last Retry-After', async () => {
    tokenEndpoint();
    const seen: Seen[] = [];
    for (let i = 0; i < 3; i++)
      graphAnswer(seen, 429, fixture('error-throttled.json'), { 'Retry-After': '3' });
    const { provider, waits } = makeProvider({ maxRetries: 2 });

    const error = await rejection(provider.sync(appConnection, {}, WINDOW));

    expect(error).toMatchObject({ code: 'unavailable', retryable: true, retryAfterSeconds: 3 });
    expect(waits).toEqual([3000, 3000]);
    expect(seen).toHaveLength(3);
  });

  it('when Graph answers 503 without Retry-After, then it backs off exponentially before giving up', async () => {
    tokenEndpoint();
    for (let i = 0; i < 4; i++) graphAnswer([], 503, 'Service Unavailable');
    const { provider, waits } = makeProvider();

    const error = await rejection(provider.sync(appConnection, {}, WINDOW));

    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    expect(waits).toEqual([1000, 2000, 4000]);
  });

  it('when Retry-After is longer than a worker should wait, then it is unavailable at once', async () => {
    tokenEndpoint();
    graphAnswer([], 429, fixture('error-throttled.json'), { 'Retry-After': '600' });
    const { provider, waits } = makeProvider();

    const error = await rejection(provider.sync(appConnection, {}, WINDOW));

    expect(error).toMatchObject({ code: 'unavailable', retryAfterSeconds: 600 });
    expect(waits).toEqual([]);
  });

  it('when the stored delta link answers 410 Gone, then FullSyncRequiredError is thrown', async () => {
    tokenEndpoint();
    graphAnswer([], 410, '', {
      Location: `${GRAPH}/v1.0/users/rep@acme.test/calendarView/delta?startDateTime=x`,
    });
    const { provider } = makeProvider();

    await expect(provider.sync(appConnection, { deltaLink: DELTA_LINK }, WINDOW)).rejects.toBeInstanceOf(
      FullSyncRequiredError,
    );
  });

  it('when Graph answers syncStateNotFound, then FullSyncRequiredError is thrown', async () => {
    tokenEndpoint();
    graphAnswer([], 400, fixture('error-sync-state-not-found.json'));
    const { provider } = makeProvider();

    const error = await rejection(provider.sync(appConnection, { deltaLink: DELTA_LINK }, WINDOW));

    expect(error).toBeInstanceOf(FullSyncRequiredError);
    expect(error.message).toContain('syncStateNotFound');
  });

  it('when the token endpoint answers invalid_grant, then CredentialError is thrown without the refresh token', async () => {
    nock(LOGIN)
      .post(`/${TENANT}/oauth2/v2.0/token`)
      .query(true)
      .reply(400, {
        error: 'invalid_grant',
        error_description:
          'AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: 0000\r\nCorrelation ID: 1111',
        error_codes: [700082],
      });
    const graphCall = graphAnswer([], 200, { value: [], '@odata.deltaLink': DELTA_LINK });
    const { provider } = makeProvider();

    const error = await rejection(provider.sync(delegatedConnection, {}, WINDOW));

    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toContain('invalid_grant');
    expect(error.message).toContain('AADSTS700082');
    expect(error.message).not.toContain('Trace ID');
    expect(error.message).not.toContain(REFRESH_TOKEN);
    expect(graphCall.isDone()).toBe(false);
  });

  it('when the token endpoint throttles app-only requests, then the sync is unavailable, also while MSAL replays the 429', async () => {
    const token = nock(LOGIN).post(`/${TENANT}/oauth2/v2.0/token`).query(true).reply(
      429,
      { error: 'temporarily_unavailable', error_description: 'AADSTS50196: loop detected' },
      {
        'Retry-After': '30',
      },
    );
    const { provider } = makeProvider();

    const first = await rejection(provider.sync(appConnection, {}, WINDOW));
    // Within the Retry-After, MSAL answers from its throttling cache without calling Entra.
    const second = await rejection(provider.sync(appConnection, {}, WINDOW));

    expect(token.isDone()).toBe(true);
    expect(second.message).not.toContain('network error');
    for (const error of [first, second]) {
      expect(error).not.toBeInstanceOf(CredentialError);
      expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    }
  });

  it('when the app secret is rejected (invalid_client), then CredentialError is thrown', async () => {
    nock(LOGIN).post(`/${TENANT}/oauth2/v2.0/token`).query(true).reply(401, { error: 'invalid_client' });
    const { provider } = makeProvider();

    await expect(provider.sync(appConnection, {}, WINDOW)).rejects.toBeInstanceOf(CredentialError);
  });

  it('when Graph answers 403 ErrorAccessDenied, then CredentialError is thrown', async () => {
    tokenEndpoint();
    graphAnswer([], 403, fixture('error-access-denied.json'));
    const { provider } = makeProvider();

    const error = await rejection(provider.sync(appConnection, {}, WINDOW));

    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toContain('ErrorAccessDenied');
  });

  it('when Graph answers 401 even with a fresh token, then CredentialError is thrown after one token refresh', async () => {
    const forms: Record<string, string>[] = [];
    tokenEndpoint(forms, 2);
    const seen: Seen[] = [];
    graphAnswer(seen, 401, {
      error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired.' },
    });
    graphAnswer(seen, 401, {
      error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired.' },
    });
    const { provider } = makeProvider();

    const error = await rejection(provider.sync(appConnection, {}, WINDOW));

    expect(error).toBeInstanceOf(CredentialError);
    expect(forms).toHaveLength(2);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer graph-token-1', 'Bearer graph-token-2']);
    expect(error.message).not.toContain('graph-token');
  });

  it('when Graph answers 500, then it is unavailable without retrying', async () => {
    tokenEndpoint();
    const seen: Seen[] = [];
    graphAnswer(seen, 500, { error: { code: 'InternalServerError', message: 'boom' } });
    const { provider, waits } = makeProvider();

    await expect(provider.sync(appConnection, {}, WINDOW)).rejects.toMatchObject({ code: 'unavailable' });
    expect(seen).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('when Graph does not answer in time, then it is unavailable', async () => {
    tokenEndpoint();
    nock(GRAPH).get(/.*/).delay(1500).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK });
    const { provider } = makeProvider();

    const error = await rejection(provider.sync(appConnection, {}, WINDOW));

    expect(error).toMatchObject({ code: 'unavailable' });
    expect(error.message).toContain('timed out');
  });

  it('when a delta page is garbage, then it is unavailable rather than an empty calendar', async () => {
    tokenEndpoint();
    graphAnswer([], 200, '<html>proxy error</html>');
    const { provider } = makeProvider();

    await expect(provider.sync(appConnection, {}, WINDOW)).rejects.toMatchObject({ code: 'unavailable' });
  });
});
