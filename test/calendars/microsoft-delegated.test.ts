import { randomBytes } from 'node:crypto';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SecretBox } from '../../src/shared/crypto.ts';
import { apiAuth, SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';

const LOGIN = 'https://login.microsoft.test';
const GRAPH = 'https://graph.microsoft.test';
const PUBLIC_URL = 'https://briefly.example.com';
const KEY = randomBytes(32);
const box = new SecretBox(KEY);
let svc: TestService;

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** What Entra returns for the signed-in user (MSAL reads the claims; it does not verify the signature). */
function identity(email: string) {
  const now = Math.floor(Date.now() / 1000);
  return {
    id_token: `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({
      aud: 'ms-client-id',
      iss: `${LOGIN}/tid-contoso/v2.0`,
      tid: 'tid-contoso',
      oid: `oid-${email}`,
      sub: `sub-${email}`,
      preferred_username: email,
      name: email.split('@')[0],
      iat: now,
      nbf: now,
      exp: now + 3600,
      ver: '2.0',
    })}.c2lnbmF0dXJl`,
    client_info: b64({ uid: `oid-${email}`, utid: 'tid-contoso' }),
  };
}

interface TokenCall {
  form: Record<string, string>;
}

/** Entra's token endpoint for the common authority; records each form. */
function tokenEndpoint(calls: TokenCall[], answer: (form: Record<string, string>) => [number, object]) {
  return nock(LOGIN)
    .post('/common/oauth2/v2.0/token')
    .query(true)
    .reply((_uri, body) => {
      const form = Object.fromEntries(new URLSearchParams(String(body)));
      calls.push({ form });
      return answer(form);
    });
}

function emptyDelta() {
  return nock(GRAPH)
    .get(/calendarView\/delta/)
    .reply(200, { value: [], '@odata.deltaLink': `${GRAPH}/v1.0/me/calendarView/delta?$deltatoken=d1` });
}

async function storedCredentials(repId: string): Promise<Record<string, string>> {
  const { rows } = await svc.db.query('SELECT credentials FROM calendar_connections WHERE rep_id = $1', [
    repId,
  ]);
  return box.open(rows[0].credentials);
}

async function newRep(email: string) {
  return svc.reps.create({ name: email.split('@')[0], email, time_zone: 'America/New_York' }, { id: 'test' });
}

async function consent(repId: string, email: string, refreshToken: string, expiresIn = 3600) {
  const started = await svc.briefings.connect.connectMicrosoft(
    { id: repId, email, timeZone: 'America/New_York' },
    'test',
  );
  expect(started.kind).toBe('authorize');
  const url = new URL((started as { url: string }).url);
  const calls: TokenCall[] = [];
  tokenEndpoint(calls, () => [
    200,
    {
      token_type: 'Bearer',
      scope: 'https://graph.microsoft.com/Calendars.Read openid profile offline_access',
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: `at-${refreshToken}`,
      refresh_token: refreshToken,
      ...identity(email),
    },
  ]);
  emptyDelta();
  const res = await svc.web.inject({
    method: 'GET',
    url: `/oauth/microsoft/callback?code=code-for-${repId}&state=${encodeURIComponent(String(url.searchParams.get('state')))}`,
  });
  return { url, res, calls };
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({
    ENCRYPTION_KEY: KEY.toString('base64'),
    MICROSOFT_CLIENT_ID: 'ms-client-id',
    MICROSOFT_CLIENT_SECRET: 'ms-client-secret',
    MICROSOFT_AUTH_MODE: 'delegated',
    MICROSOFT_LOGIN_BASE_URL: LOGIN,
    GRAPH_BASE_URL: GRAPH,
    PUBLIC_URL,
    CALENDAR_TIMEOUT_MS: '1000',
  });
});
afterEach(() => {
  nock.cleanAll();
  vi.useRealTimers();
});

/** Moves only Date (MSAL's clock for token expiry) ahead; queue and socket timers keep real time. */
function hoursLater(hours: number) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + hours * 3_600_000);
}
afterAll(async () => {
  nock.enableNetConnect();
  await svc.close();
});

describe('Microsoft 365 delegated connection (MSAL)', () => {
  it('when a rep connects, then the consent link asks for offline calendar access and comes back to our callback', async () => {
    const rep = await newRep('dee@contoso.test');
    const started = await svc.briefings.connect.connectMicrosoft(
      { id: rep.id, email: rep.email, timeZone: rep.time_zone },
      'test',
    );
    expect(started.kind).toBe('authorize');
    const url = new URL((started as { url: string }).url);
    expect(url.origin + url.pathname).toBe(`${LOGIN}/common/oauth2/v2.0/authorize`);
    expect(url.searchParams.get('client_id')).toBe('ms-client-id');
    expect(url.searchParams.get('redirect_uri')).toBe(`${PUBLIC_URL}/oauth/microsoft/callback`);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('scope')?.split(' ')).toEqual(
      expect.arrayContaining(['https://graph.microsoft.com/Calendars.Read', 'offline_access']),
    );
    expect(url.searchParams.get('state')).toMatch(new RegExp(`^${rep.id}\\.\\d+\\.`));
    expect(url.searchParams.get('client_secret')).toBeNull();
  });

  it("when Microsoft is connected through the API, then 200 carries the rep's consent link for our callback", async () => {
    const rep = await newRep('ann@contoso.test');
    const res = await svc.web.inject({
      method: 'PUT',
      url: `/v1/reps/${rep.id}/calendar`,
      headers: await apiAuth(svc),
      payload: { source: 'microsoft' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ source: 'microsoft', status: 'authorize', first_sync: null });
    const url = new URL(res.json().authorize_url);
    expect(url.origin + url.pathname).toBe(`${LOGIN}/common/oauth2/v2.0/authorize`);
    expect(url.searchParams.get('redirect_uri')).toBe(`${PUBLIC_URL}/oauth/microsoft/callback`);
    expect(() =>
      svc.briefings.connect.verifyState(String(url.searchParams.get('state')), 'microsoft'),
    ).not.toThrow();
  });

  it('when the rep consents, then the code is redeemed, the refresh token is stored only encrypted and the calendar syncs', async () => {
    const rep = await newRep('eve@contoso.test');
    const { res, calls } = await consent(rep.id, rep.email, 'rt-eve-1');

    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Microsoft 365 calendar connected');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.form).toMatchObject({
      grant_type: 'authorization_code',
      code: `code-for-${rep.id}`,
      client_id: 'ms-client-id',
      client_secret: 'ms-client-secret',
      redirect_uri: `${PUBLIC_URL}/oauth/microsoft/callback`,
    });
    const { rows } = await svc.db.query(
      'SELECT provider, auth_kind, status, credentials, last_synced_at FROM calendar_connections WHERE rep_id = $1',
      [rep.id],
    );
    expect(rows[0]).toMatchObject({ provider: 'microsoft', auth_kind: 'delegated', status: 'active' });
    expect(rows[0].last_synced_at).not.toBeNull();
    expect(rows[0].credentials).not.toContain('rt-eve-1');
    const credentials = box.open(rows[0].credentials);
    expect(credentials.home_account_id).toBe('oid-eve@contoso.test.tid-contoso');
    expect(credentials.msal_cache).toContain('rt-eve-1');
  });

  it('when Entra rotates the refresh token on a sync, then the new one is stored (encrypted) before the sync goes on', async () => {
    const rep = await newRep('fay@contoso.test');
    const { res } = await consent(rep.id, rep.email, 'rt-fay-1');
    expect(res.statusCode).toBe(200);
    // Two hours on, the stored access token has expired: MSAL refreshes it on the next sync.
    hoursLater(2);

    const calls: TokenCall[] = [];
    tokenEndpoint(calls, () => [
      200,
      {
        token_type: 'Bearer',
        scope: 'https://graph.microsoft.com/Calendars.Read openid profile offline_access',
        expires_in: 3600,
        access_token: 'at-fay-2',
        refresh_token: 'rt-fay-2',
        ...identity(rep.email),
      },
    ]);
    let authorization = '';
    nock(GRAPH)
      .get(/calendarView\/delta/)
      .reply(function () {
        authorization = String(this.req.headers.authorization);
        return [200, { value: [], '@odata.deltaLink': `${GRAPH}/v1.0/me/calendarView/delta?$deltatoken=d2` }];
      });
    const outcome = await svc.briefings.sync.sync({ id: rep.id, email: rep.email, timeZone: rep.time_zone });

    expect(outcome.status).toBe('synced');
    expect(calls[0]?.form).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'rt-fay-1' });
    expect(authorization).toBe('Bearer at-fay-2');
    const stored = await storedCredentials(rep.id);
    expect(stored.msal_cache).toContain('rt-fay-2');
    expect(stored.msal_cache).not.toContain('rt-fay-1');
    const raw = await svc.db.query('SELECT credentials FROM calendar_connections WHERE rep_id = $1', [
      rep.id,
    ]);
    expect(raw.rows[0].credentials).not.toContain('rt-fay-2');
    expect(svc.log.lines().join('\n')).not.toContain('rt-fay-2');
  });

  it('when the refresh token is revoked, then the connection is marked broken and the alert goes out once', async () => {
    const rep = await newRep('gil@contoso.test');
    await consent(rep.id, rep.email, 'rt-gil-1');
    hoursLater(2);
    nock(SLACK_HOST).post(/.*/).times(10).reply(200, { ok: true, channel: 'C1', ts: '1.1' });
    tokenEndpoint([], () => [
      400,
      {
        error: 'invalid_grant',
        error_description:
          'AADSTS50173: The provided grant has expired due to it being revoked.\r\nTrace ID: t',
        error_codes: [50173],
      },
    ]);

    const outcome = await svc.briefings.sync.sync({ id: rep.id, email: rep.email, timeZone: rep.time_zone });

    expect(outcome).toMatchObject({ status: 'broken', newlyBroken: true });
    const { rows } = await svc.db.query(
      'SELECT status, broken_reason FROM calendar_connections WHERE rep_id = $1',
      [rep.id],
    );
    expect(rows[0].status).toBe('broken');
    expect(rows[0].broken_reason).toMatch(/invalid_grant.*AADSTS50173/);
    expect(rows[0].broken_reason).not.toContain('rt-gil-1');
    const again = await svc.briefings.sync.sync({ id: rep.id, email: rep.email, timeZone: rep.time_zone });
    expect(again).toMatchObject({ status: 'broken', newlyBroken: false });
    const posts = await svc.db.query(
      "SELECT count(*)::int AS n FROM slack_posts WHERE kind = 'calendar-broken' AND text LIKE 'gil''s Microsoft%'",
    );
    expect(posts.rows[0].n).toBe(1);
  });

  it('when Graph refuses a cached access token, then MSAL is asked past its cache once and a rotated refresh token is kept', async () => {
    const rep = await newRep('kim@contoso.test');
    await consent(rep.id, rep.email, 'rt-kim-1');
    const calls: TokenCall[] = [];
    tokenEndpoint(calls, () => [
      200,
      {
        token_type: 'Bearer',
        scope: 'https://graph.microsoft.com/Calendars.Read openid profile offline_access',
        expires_in: 3600,
        access_token: 'at-kim-2',
        refresh_token: 'rt-kim-2',
        ...identity(rep.email),
      },
    ]);
    const seen: string[] = [];
    nock(GRAPH)
      .get(/calendarView\/delta/)
      .times(2)
      .reply(function () {
        seen.push(String(this.req.headers.authorization));
        return seen.length === 1
          ? [401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired.' } }]
          : [200, { value: [], '@odata.deltaLink': `${GRAPH}/v1.0/me/calendarView/delta?$deltatoken=d3` }];
      });

    const outcome = await svc.briefings.sync.sync({ id: rep.id, email: rep.email, timeZone: rep.time_zone });

    expect(outcome.status).toBe('synced');
    expect(seen).toEqual(['Bearer at-rt-kim-1', 'Bearer at-kim-2']);
    expect(calls).toHaveLength(1);
    expect((await storedCredentials(rep.id)).msal_cache).toContain('rt-kim-2');
  });

  it('when the state is forged, expired or made for Google, then the callback refuses it and stores nothing', async () => {
    const rep = await newRep('hal@contoso.test');
    const forged = `${rep.id}.${Date.now() + 60_000}.AAAA`;
    const googleState = svc.briefings.connect.signState(rep.id, 'google');
    for (const state of [forged, googleState]) {
      const res = await svc.web.inject({
        method: 'GET',
        url: `/oauth/microsoft/callback?code=c&state=${encodeURIComponent(state)}`,
      });
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('run /briefing connect microsoft again');
    }
    const { rows } = await svc.db.query('SELECT 1 FROM calendar_connections WHERE rep_id = $1', [rep.id]);
    expect(rows).toEqual([]);
  });

  it('when Entra refuses the code, then the page says so and nothing is stored', async () => {
    const rep = await newRep('ida@contoso.test');
    tokenEndpoint([], () => [
      400,
      {
        error: 'invalid_grant',
        error_description: 'AADSTS54005: OAuth2 Authorization code was already redeemed.',
      },
    ]);
    const state = svc.briefings.connect.signState(rep.id, 'microsoft');
    const res = await svc.web.inject({
      method: 'GET',
      url: `/oauth/microsoft/callback?code=used&state=${encodeURIComponent(state)}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('AADSTS54005');
    const { rows } = await svc.db.query('SELECT 1 FROM calendar_connections WHERE rep_id = $1', [rep.id]);
    expect(rows).toEqual([]);
  });

  it('when the token endpoint does not answer in time, then the sync is retryable and the connection stays active', async () => {
    const rep = await newRep('jo@contoso.test');
    await consent(rep.id, rep.email, 'rt-jo-1');
    hoursLater(2);
    nock(LOGIN).post('/common/oauth2/v2.0/token').query(true).delay(20_000).reply(200, {});

    await expect(
      svc.briefings.sync.sync({ id: rep.id, email: rep.email, timeZone: rep.time_zone }),
    ).rejects.toMatchObject({
      code: 'unavailable',
      retryable: true,
      message: expect.stringContaining('timed out'),
    });
    const { rows } = await svc.db.query('SELECT status FROM calendar_connections WHERE rep_id = $1', [
      rep.id,
    ]);
    expect(rows[0].status).toBe('active');
  });
});
