import { generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CalendarConnectionRef,
  CredentialError,
  FullSyncRequiredError,
} from '../../../src/calendars/calendar-provider.ts';
import {
  GoogleCalendarProvider,
  type GoogleCalendarProviderOptions,
} from '../../../src/calendars/providers/google.calendar-provider.ts';
import { AppError } from '../../../src/errors.ts';

const BASE = 'https://google-api.test';
const TOKEN_HOST = 'https://google-oauth.test';
const TOKEN_URL = `${TOKEN_HOST}/token`;
const EVENTS = '/calendar/v3/calendars/primary/events';
const REFRESH_TOKEN = 'rt-very-secret-refresh';
const ACCESS_TOKEN = 'ya29.access-token-1';
const WINDOW = { start: new Date('2026-11-15T00:00:00.000Z'), end: new Date('2026-12-20T00:00:00.000Z') };

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/calendars/google/${name}`, import.meta.url), 'utf8'));

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SERVICE_ACCOUNT = {
  client_email: 'briefly-sync@acme-project.iam.gserviceaccount.com',
  private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};

function makeProvider(overrides: Partial<GoogleCalendarProviderOptions> = {}): GoogleCalendarProvider {
  return new GoogleCalendarProvider({
    baseUrl: BASE,
    tokenUrl: TOKEN_URL,
    oauthClient: { clientId: 'client-id-1', clientSecret: 'client-secret-1' },
    serviceAccount: SERVICE_ACCOUNT,
    timeoutMs: 300,
    pageSize: 3,
    ...overrides,
  });
}

const oauthConnection: CalendarConnectionRef = {
  repEmail: 'rep@acme.test',
  calendarId: null,
  authKind: 'oauth',
  credentials: { refresh_token: REFRESH_TOKEN },
};

/** Answers refresh-token grants and records each form it receives. */
function tokenEndpoint(forms: Record<string, string>[] = [], times = 1) {
  return nock(TOKEN_HOST)
    .post('/token')
    .times(times)
    .reply(200, (_uri, body) => {
      forms.push(Object.fromEntries(new URLSearchParams(String(body))));
      return { access_token: ACCESS_TOKEN, expires_in: 3599, token_type: 'Bearer' };
    });
}

interface Seen {
  query: URLSearchParams;
  authorization: string;
}

/** One events.list answer; records the query and the Authorization header it was asked with. */
function eventsAnswer(seen: Seen[], status: number, body: unknown, headers: Record<string, string> = {}) {
  return nock(BASE)
    .get(EVENTS)
    .query(true)
    .reply(function (uri) {
      seen.push({
        query: new URL(uri, BASE).searchParams,
        authorization: String(this.req.headers.authorization),
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

describe('GoogleCalendarProvider full sync', () => {
  it('when there is no sync token, then it lists from the window start over every page and stores the last page token', async () => {
    const forms: Record<string, string>[] = [];
    const seen: Seen[] = [];
    tokenEndpoint(forms);
    eventsAnswer(seen, 200, fixture('events-page-1.json'));
    eventsAnswer(seen, 200, fixture('events-page-2.json'));

    const result = await makeProvider().sync(oauthConnection, {}, WINDOW);

    expect(forms).toEqual([
      {
        grant_type: 'refresh_token',
        refresh_token: REFRESH_TOKEN,
        client_id: 'client-id-1',
        client_secret: 'client-secret-1',
      },
    ]);
    expect(seen).toHaveLength(2);
    for (const request of seen) {
      expect(request.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
      expect(request.query.get('timeMin')).toBe('2026-11-15T00:00:00.000Z');
      expect(request.query.get('singleEvents')).toBe('true');
      expect(request.query.get('maxResults')).toBe('3');
      expect(request.query.has('timeMax')).toBe(false);
      expect(request.query.has('syncToken')).toBe(false);
    }
    expect(seen[0]?.query.has('pageToken')).toBe(false);
    expect(seen[1]?.query.get('pageToken')).toBe('page-2-token');

    expect(result.full).toBe(true);
    expect(result.unchanged).toBeUndefined();
    expect(result.removed).toEqual([]);
    expect(result.state).toEqual({ syncToken: 'sync-token-1', windowStart: '2026-11-15T00:00:00.000Z' });
    // Garbage entries (no start, no id, not objects, unparseable times) and working locations are skipped.
    expect(result.events.map((e) => e.externalId)).toEqual([
      'evt_timed_1',
      'evt_allday_1',
      'evt_conf_1',
      'evt_pasted_link',
    ]);
    const [timed, allDay, conference, pasted] = result.events;
    expect(timed).toEqual({
      externalId: 'evt_timed_1',
      title: 'Discovery call with Globex',
      description: 'Agenda: pricing, rollout',
      location: 'Room 4B',
      videoUrl: 'https://meet.google.com/abc-defg-hij',
      startsAt: new Date('2026-11-24T14:00:00.000Z'),
      endsAt: new Date('2026-11-24T14:30:00.000Z'),
      allDay: false,
      status: 'confirmed',
      selfResponse: 'accepted',
      organizer: { email: 'rep@acme.test', name: 'Rita Rep', self: true },
      attendees: [
        { email: 'rep@acme.test', name: 'Rita Rep', response: 'accepted', organizer: true, self: true },
        { email: 'hank@globex.test', name: 'Hank Scorpio', response: 'needsAction' },
      ],
    });
    expect(allDay).toMatchObject({
      title: 'Offsite',
      allDay: true,
      startsAt: new Date('2026-11-25T00:00:00.000Z'),
      endsAt: new Date('2026-11-27T00:00:00.000Z'),
      attendees: [],
    });
    expect(conference).toMatchObject({
      title: '(no title)',
      status: 'tentative',
      videoUrl: 'https://initech.zoom.us/j/123456789',
      selfResponse: 'tentative',
      organizer: { email: 'boss@initech.test', name: 'Bill L.' },
    });
    expect(pasted?.videoUrl).toBe('https://acme.zoom.us/j/987654321?pwd=xyz');
  });

  it('when the connection is a service account, then google-auth-library posts a JWT assertion for the rep to GOOGLE_TOKEN_URL and the rep calendar is read', async () => {
    let form: Record<string, string> = {};
    nock(TOKEN_HOST)
      .post('/token')
      .reply(200, (_uri, body) => {
        form = Object.fromEntries(new URLSearchParams(String(body)));
        return { access_token: 'sa-access-token', expires_in: 3600, token_type: 'Bearer' };
      });
    let authorization = '';
    nock(BASE)
      .get('/calendar/v3/calendars/rep%40acme.test/events')
      .query(true)
      .reply(function () {
        authorization = String(this.req.headers.authorization);
        return [200, { items: [], nextSyncToken: 'sa-sync-1' }];
      });
    const connection = { ...oauthConnection, authKind: 'service_account', credentials: {} };

    const result = await makeProvider().sync(connection, {}, WINDOW);

    expect(result.state.syncToken).toBe('sa-sync-1');
    expect(authorization).toBe('Bearer sa-access-token');
    expect(form.grant_type).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [header, payload, signature] = String(form.assertion).split('.');
    expect(JSON.parse(Buffer.from(String(header), 'base64url').toString())).toEqual({ alg: 'RS256' });
    const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString());
    expect(claims).toMatchObject({
      iss: SERVICE_ACCOUNT.client_email,
      sub: 'rep@acme.test',
      scope: 'https://www.googleapis.com/auth/calendar.readonly',
      // The audience stays Google's token endpoint even when the request goes through another URL.
      aud: 'https://oauth2.googleapis.com/token',
    });
    expect(claims.exp - claims.iat).toBe(3600);
    const signed = verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${payload}`),
      publicKey,
      Buffer.from(String(signature), 'base64url'),
    );
    expect(signed).toBe(true);
  });

  it('when a service account reads a secondary calendar, then it impersonates the rep and lists that calendar', async () => {
    let claims: Record<string, unknown> = {};
    nock(TOKEN_HOST)
      .post('/token')
      .reply(200, (_uri, body) => {
        const assertion = String(new URLSearchParams(String(body)).get('assertion'));
        claims = JSON.parse(Buffer.from(String(assertion.split('.')[1]), 'base64url').toString());
        return { access_token: 'sa-access-token', expires_in: 3600 };
      });
    const calendarCall = nock(BASE)
      .get('/calendar/v3/calendars/team-sales%40group.calendar.google.com/events')
      .query(true)
      .reply(200, { items: [], nextSyncToken: 'group-sync-1' });
    const connection = {
      ...oauthConnection,
      authKind: 'service_account',
      calendarId: 'team-sales@group.calendar.google.com',
      credentials: {},
    };

    await makeProvider().sync(connection, {}, WINDOW);

    expect(claims.sub).toBe('rep@acme.test');
    expect(calendarCall.isDone()).toBe(true);
  });

  it('when two syncs run for one connection, then the access token is requested once', async () => {
    const forms: Record<string, string>[] = [];
    tokenEndpoint(forms, 2);
    const seen: Seen[] = [];
    eventsAnswer(seen, 200, { items: [], nextSyncToken: 's1' });
    eventsAnswer(seen, 200, { items: [], nextSyncToken: 's2' });
    const provider = makeProvider();

    await provider.sync(oauthConnection, {}, WINDOW);
    const second = await provider.sync(oauthConnection, { syncToken: 's1' }, WINDOW);

    expect(forms).toHaveLength(1);
    expect(seen).toHaveLength(2);
    expect(second.state.syncToken).toBe('s2');
  });
});

describe('GoogleCalendarProvider incremental sync', () => {
  it('when a sync token is stored, then only the token is sent and changes and cancellations come back', async () => {
    tokenEndpoint();
    const seen: Seen[] = [];
    eventsAnswer(seen, 200, fixture('events-incremental.json'));
    const state = { syncToken: 'sync-token-1', windowStart: '2026-11-15T00:00:00.000Z' };

    const result = await makeProvider().sync(oauthConnection, state, WINDOW);

    expect(seen).toHaveLength(1);
    expect(Object.fromEntries(seen[0]?.query ?? [])).toEqual({
      syncToken: 'sync-token-1',
      singleEvents: 'true',
      maxResults: '3',
    });
    expect(result.full).toBe(false);
    expect(result.unchanged).toBeUndefined();
    expect(result.removed).toEqual(['evt_allday_1', 'evt_series_20261130T150000Z']);
    expect(result.events).toHaveLength(1);
    expect(result.events[0]).toMatchObject({
      externalId: 'evt_timed_1',
      title: 'Discovery call with Globex (moved)',
      startsAt: new Date('2026-11-24T16:00:00.000Z'),
      selfResponse: 'declined',
    });
    expect(result.state).toEqual({ syncToken: 'sync-token-2', windowStart: '2026-11-15T00:00:00.000Z' });
  });

  it('when nothing changed, then the result says unchanged and carries the new token', async () => {
    tokenEndpoint();
    eventsAnswer([], 200, { items: [], nextSyncToken: 'sync-token-3' });

    const result = await makeProvider().sync(oauthConnection, { syncToken: 'sync-token-2' }, WINDOW);

    expect(result).toMatchObject({ full: false, unchanged: true, events: [], removed: [] });
    expect(result.state.syncToken).toBe('sync-token-3');
  });
});

describe('GoogleCalendarProvider errors', () => {
  it('when Google answers 410 fullSyncRequired, then FullSyncRequiredError is thrown', async () => {
    tokenEndpoint();
    eventsAnswer([], 410, fixture('error-410.json'));

    const error = await rejection(makeProvider().sync(oauthConnection, { syncToken: 'old' }, WINDOW));

    expect(error).toBeInstanceOf(FullSyncRequiredError);
    expect(error.message).toContain('fullSyncRequired');
  });

  it('when Google answers 401 even with a fresh token, then CredentialError is thrown without any token in it', async () => {
    const forms: Record<string, string>[] = [];
    tokenEndpoint(forms, 2);
    const seen: Seen[] = [];
    eventsAnswer(seen, 401, fixture('error-401.json'));
    eventsAnswer(seen, 401, fixture('error-401.json'));

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).toBeInstanceOf(CredentialError);
    expect(forms).toHaveLength(2);
    expect(seen).toHaveLength(2);
    expect(error.message).not.toContain(ACCESS_TOKEN);
    expect(error.message).not.toContain(REFRESH_TOKEN);
  });

  it('when the token endpoint answers invalid_grant, then CredentialError is thrown and the calendar is not called', async () => {
    nock(TOKEN_HOST)
      .post('/token')
      .reply(400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    const calendarCall = nock(BASE).get(EVENTS).query(true).reply(200, {});

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toContain('invalid_grant');
    expect(error.message).not.toContain(REFRESH_TOKEN);
    expect(calendarCall.isDone()).toBe(false);
  });

  it('when domain-wide delegation is not granted (unauthorized_client), then CredentialError is thrown', async () => {
    nock(TOKEN_HOST).post('/token').reply(401, {
      error: 'unauthorized_client',
      error_description: 'Client is unauthorized to retrieve access tokens.',
    });
    const connection = { ...oauthConnection, authKind: 'service_account', credentials: {} };

    const error = await rejection(makeProvider().sync(connection, {}, WINDOW));

    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toContain('unauthorized_client');
  });

  it('when the rep has no access to the calendar (403 forbidden), then CredentialError is thrown', async () => {
    tokenEndpoint();
    eventsAnswer([], 403, fixture('error-403-forbidden.json'));

    await expect(makeProvider().sync(oauthConnection, {}, WINDOW)).rejects.toBeInstanceOf(CredentialError);
  });

  it('when Google answers 429 with Retry-After, then it is unavailable with that delay and not retried', async () => {
    tokenEndpoint();
    const seen: Seen[] = [];
    eventsAnswer(seen, 429, { error: { code: 429, message: 'Too Many Requests' } }, { 'Retry-After': '42' });

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'unavailable', retryable: true, retryAfterSeconds: 42 });
    expect(seen).toHaveLength(1);
  });

  it('when Google answers 403 rateLimitExceeded, then it is unavailable rather than a broken credential', async () => {
    tokenEndpoint();
    eventsAnswer([], 403, fixture('error-403-rate.json'));

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).not.toBeInstanceOf(CredentialError);
    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('when Google answers 500, then it is unavailable after a single request', async () => {
    tokenEndpoint();
    const seen: Seen[] = [];
    eventsAnswer(seen, 500, 'Internal Error');

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    expect(seen).toHaveLength(1);
  });

  it('when Google does not answer in time, then it is unavailable', async () => {
    tokenEndpoint();
    nock(BASE).get(EVENTS).query(true).delay(1500).reply(200, { items: [], nextSyncToken: 'late' });

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).toMatchObject({ code: 'unavailable' });
    expect(error.message).toContain('timed out');
  });

  it('when the token endpoint does not answer in time, then it is unavailable and asked once', async () => {
    const token = nock(TOKEN_HOST).post('/token').delay(1500).reply(200, { access_token: 'late' });

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    expect(error.message).toContain('timed out');
    expect(token.isDone()).toBe(true);
  });

  it('when the service account key cannot sign, then it is an internal error, not a broken rep connection', async () => {
    const provider = makeProvider({
      serviceAccount: { client_email: SERVICE_ACCOUNT.client_email, private_key: 'not a pem key' },
    });
    const connection = { ...oauthConnection, authKind: 'service_account', credentials: {} };

    const error = await rejection(provider.sync(connection, {}, WINDOW));

    expect(error).not.toBeInstanceOf(CredentialError);
    expect(error).toMatchObject({ code: 'internal', retryable: false });
  });

  it('when the token endpoint is down, then it is unavailable, not a broken credential', async () => {
    nock(TOKEN_HOST).post('/token').reply(503, 'upstream down', { 'Retry-After': '5' });

    const error = await rejection(makeProvider().sync(oauthConnection, {}, WINDOW));

    expect(error).not.toBeInstanceOf(CredentialError);
    expect(error).toMatchObject({ code: 'unavailable', retryAfterSeconds: 5 });
  });

  it('when the page itself is garbage, then it is unavailable rather than an empty calendar', async () => {
    tokenEndpoint();
    eventsAnswer([], 200, { items: 'nope' });

    await expect(makeProvider().sync(oauthConnection, {}, WINDOW)).rejects.toMatchObject({
      code: 'unavailable',
    });
  });

  it('when an oauth connection has no refresh token, then CredentialError is thrown', async () => {
    const error = await rejection(makeProvider().sync({ ...oauthConnection, credentials: {} }, {}, WINDOW));

    expect(error).toBeInstanceOf(CredentialError);
  });
});
