import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

const FEED = 'https://calendar.test';
let svc: TestService;
let auth: { authorization: string };

function tomorrowMeeting(): string {
  const start = new Date(Date.now() + 3 * 3_600_000);
  const end = new Date(start.getTime() + 30 * 60_000);
  const stamp = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//test//EN',
    'BEGIN:VEVENT',
    'UID:api-1@test',
    `DTSTAMP:${stamp(start)}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    'SUMMARY:Pricing review with Globex',
    'ATTENDEE;CN=Rita;PARTSTAT=ACCEPTED:mailto:rita@acme.test',
    'ATTENDEE;CN=Hank;PARTSTAT=ACCEPTED:mailto:hank@globex.example',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({
    COMPANY_DOMAINS: 'acme.test',
    GOOGLE_CLIENT_ID: 'client-id.apps.googleusercontent.com',
    GOOGLE_CLIENT_SECRET: 'google-client-secret',
    GOOGLE_TOKEN_URL: 'https://oauth.google.test/token',
    GOOGLE_BASE_URL: 'https://google.test',
    PUBLIC_URL: 'https://briefly.example.com',
  });
  auth = await apiAuth(svc);
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  nock.enableNetConnect();
  await svc.close();
});

async function repWithFeed(email: string) {
  const rep = await svc.reps.create({ name: 'Rita', email, time_zone: 'UTC' }, { id: 'test' });
  nock(FEED).get('/rita.ics').reply(200, tomorrowMeeting(), { etag: '"v1"' });
  await svc.briefings.connect.connectIcs({ id: rep.id, email, timeZone: 'UTC' }, `${FEED}/rita.ics`, 'test');
  return rep;
}

describe('REST API /v1/reps/{id}/briefings', () => {
  it('when no API key is sent, then the answer is 401', async () => {
    const res = await svc.web.inject({
      method: 'GET',
      url: '/v1/reps/00000000-0000-4000-8000-000000000000/briefings',
    });
    expect(res.statusCode).toBe(401);
  });

  it('when the rep does not exist, then listing and sending answer 404', async () => {
    const url = '/v1/reps/00000000-0000-4000-8000-000000000000/briefings';
    expect((await svc.web.inject({ method: 'GET', url, headers: auth })).statusCode).toBe(404);
    expect((await svc.web.inject({ method: 'POST', url: `${url}/send`, headers: auth })).statusCode).toBe(
      404,
    );
  });

  it('when the query is bad, then 400 names the field', async () => {
    const rep = await svc.reps.create({ name: 'Q', email: 'q@acme.test', time_zone: 'UTC' }, { id: 'test' });
    const res = await svc.web.inject({
      method: 'GET',
      url: `/v1/reps/${rep.id}/briefings?before=yesterday&limit=0`,
      headers: auth,
    });
    expect(res.statusCode).toBe(400);
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['query.before', 'query.limit']));
  });

  it('when a briefing is sent now, then it is delivered (file outbox) and listed with its delivery status', async () => {
    const rep = await repWithFeed('rita@acme.test');
    nock(FEED).get('/rita.ics').matchHeader('if-none-match', '"v1"').reply(304);
    const sent = await svc.web.inject({
      method: 'POST',
      url: `/v1/reps/${rep.id}/briefings/send`,
      headers: auth,
    });
    expect(sent.statusCode).toBe(202);
    const body = sent.json();
    expect(body.status).toBe('scheduled');
    const deadline = Date.now() + 10_000;
    let status = '';
    while (Date.now() < deadline && status !== 'sent') {
      status = (await svc.db.query('SELECT status FROM messages WHERE id = $1', [body.message_id])).rows[0]
        ?.status;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('sent');
    const list = await svc.web.inject({ method: 'GET', url: `/v1/reps/${rep.id}/briefings`, headers: auth });
    expect(list.statusCode).toBe(200);
    const [briefing] = list.json().briefings;
    expect(briefing).toMatchObject({
      id: body.briefing_id,
      status: 'scheduled',
      message_status: 'sent',
      meeting_count: 1,
    });
    expect(briefing.content.meetings[0].title).toBe('Pricing review with Globex');
    expect(briefing.content.meetings[0].attendees[0]).toMatchObject({
      email: 'hank@globex.example',
      external: true,
    });
    // A second send the same day is an on-demand copy, not a second scheduled briefing.
    nock(FEED).get('/rita.ics').reply(304);
    const again = await svc.web.inject({
      method: 'POST',
      url: `/v1/reps/${rep.id}/briefings/send`,
      headers: auth,
    });
    expect(again.statusCode).toBe(202);
    expect(again.json().message_id).not.toBe(body.message_id);
    expect(
      (await svc.web.inject({ method: 'GET', url: `/v1/reps/${rep.id}/briefings`, headers: auth })).json()
        .briefings,
    ).toHaveLength(1);
  });
});

describe('Google OAuth connection', () => {
  it('when a rep consents and Google returns a code, then the refresh token is stored encrypted and the calendar synced', async () => {
    const rep = await svc.reps.create(
      { name: 'Gus', email: 'gus@acme.test', time_zone: 'UTC' },
      { id: 'test' },
    );
    const started = await svc.briefings.connect.connectGoogle(
      { id: rep.id, email: 'gus@acme.test', timeZone: 'UTC' },
      'test',
    );
    expect(started.kind).toBe('authorize');
    const url = new URL((started as { url: string }).url);
    expect(url.searchParams.get('redirect_uri')).toBe('https://briefly.example.com/oauth/google/callback');
    const state = url.searchParams.get('state') as string;

    nock('https://oauth.google.test')
      .post('/token', (body) => body.grant_type === 'authorization_code' && body.code === 'the-code')
      .reply(200, { access_token: 'ya29.first', refresh_token: '1//refresh-secret', expires_in: 3600 })
      .post(
        '/token',
        (body) => body.grant_type === 'refresh_token' && body.refresh_token === '1//refresh-secret',
      )
      .reply(200, { access_token: 'ya29.second', expires_in: 3600 });
    nock('https://google.test')
      .get('/calendar/v3/calendars/primary/events')
      .query(true)
      .reply(200, { items: [], nextSyncToken: 'sync-1' });

    const res = await svc.web.inject({
      method: 'GET',
      url: `/oauth/google/callback?code=the-code&state=${encodeURIComponent(state)}`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Google Calendar connected');
    const { rows } = await svc.db.query('SELECT * FROM calendar_connections WHERE rep_id = $1', [rep.id]);
    expect(rows[0]).toMatchObject({ provider: 'google', auth_kind: 'oauth', status: 'active' });
    expect(rows[0].credentials).not.toContain('refresh-secret');
    expect(rows[0].sync_state.syncToken).toBe('sync-1');
  });

  it('when the state is forged or tampered with, then the callback refuses with 400 and stores nothing', async () => {
    const rep = await svc.reps.create(
      { name: 'Eve', email: 'eve@acme.test', time_zone: 'UTC' },
      { id: 'test' },
    );
    const forged = `${rep.id}.${Date.now() + 60_000}.AAAA`;
    const res = await svc.web.inject({ method: 'GET', url: `/oauth/google/callback?code=x&state=${forged}` });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('invalid or has expired');
    const missing = await svc.web.inject({ method: 'GET', url: '/oauth/google/callback' });
    expect(missing.statusCode).toBe(400);
    const { rowCount } = await svc.db.query('SELECT 1 FROM calendar_connections WHERE rep_id = $1', [rep.id]);
    expect(rowCount).toBe(0);
  });
});
