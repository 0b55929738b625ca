import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

const FEED_HOST = 'https://feeds.calendar.test';
const SECRET_PATH = '/ical/private-9f8e7d6c5b4a/basic.ics';
let svc: TestService;
let auth: { authorization: string };

function feed(uid: string): string {
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
    `UID:${uid}`,
    `DTSTAMP:${stamp(start)}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    'SUMMARY:Pricing review with Globex',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

async function newRep(email: string): Promise<string> {
  const res = await svc.web.inject({
    method: 'POST',
    url: '/v1/reps',
    headers: auth,
    payload: { name: email.split('@')[0], email, time_zone: 'America/New_York' },
  });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

/** Waits (without asserting on time) until the background job has left its mark. */
async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({
    GOOGLE_CLIENT_ID: 'client-id.apps.googleusercontent.com',
    GOOGLE_CLIENT_SECRET: 'google-client-secret',
    PUBLIC_URL: 'https://briefly.example.com',
  });
  auth = await apiAuth(svc);
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  nock.enableNetConnect();
  await svc.close();
});

describe('REST API /v1/reps/{id}/calendar', () => {
  it('when an ICS URL is put, then 202 says the first sync is queued, the URL is stored encrypted and the sync fills the mirror', async () => {
    const id = await newRep('ivy@acme.test');
    const scope = nock(FEED_HOST).get(SECRET_PATH).reply(200, feed('api-ics-1@test'), { etag: '"v1"' });
    const res = await svc.web.inject({
      method: 'PUT',
      url: `/v1/reps/${id}/calendar`,
      headers: auth,
      payload: { source: 'ics', url: `webcal://feeds.calendar.test${SECRET_PATH}` },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      rep_id: id,
      source: 'ics',
      status: 'connected',
      first_sync: 'queued',
      authorize_url: null,
    });

    const stored = await svc.db.query(
      'SELECT provider, auth_kind, credentials FROM calendar_connections WHERE rep_id = $1',
      [id],
    );
    expect(stored.rows[0]).toMatchObject({ provider: 'ics', auth_kind: 'url' });
    expect(stored.rows[0].credentials).not.toContain('private-9f8e7d6c5b4a');
    const rep = await svc.db.query('SELECT calendar_source FROM reps WHERE id = $1', [id]);
    expect(rep.rows[0].calendar_source).toBe('ics');

    const titles = await until(async () => {
      const { rows } = await svc.db.query('SELECT title FROM calendar_events WHERE rep_id = $1', [id]);
      return rows.length > 0 ? rows.map((r) => r.title) : undefined;
    }, 'the queued first sync');
    expect(titles).toEqual(['Pricing review with Globex']);
    expect(scope.isDone()).toBe(true);

    const status = await svc.web.inject({ method: 'GET', url: `/v1/reps/${id}/calendar`, headers: auth });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ rep_id: id, source: 'ics', status: 'active', broken_reason: null });
    expect(status.json().last_synced_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(status.body).not.toContain('private-9f8e7d6c5b4a');
  });

  it('when the feed names a zone nobody defines, then the sync logs a warning naming the zone and the rep, not the URL', async () => {
    const id = await newRep('zed@acme.test');
    const body = feed('api-zone@test')
      .replace(/DTSTART:(\d{8}T\d{6})Z/, 'DTSTART;TZID=Island Standard Time:$1')
      .replace(/DTEND:(\d{8}T\d{6})Z/, 'DTEND;TZID=Island Standard Time:$1');
    nock(FEED_HOST).get('/private-zone-7c7c/basic.ics').reply(200, body);
    const res = await svc.web.inject({
      method: 'PUT',
      url: `/v1/reps/${id}/calendar`,
      headers: auth,
      payload: { source: 'ics', url: `${FEED_HOST}/private-zone-7c7c/basic.ics` },
    });
    expect(res.statusCode).toBe(202);
    const line = await until(
      async () => svc.log.lines().find((l) => l.includes('calendar feed warning') && l.includes(id)),
      'the zone warning',
    );
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({ level: 'warn', rep_id: id, provider: 'ics' });
    expect(entry.warning).toContain('TZID "Island Standard Time"');
    expect(entry.warning).toContain("the rep's zone America/New_York");
    expect(line).not.toContain('private-zone-7c7c');
  });

  it('when the feed refuses the queued first sync, then the connection is broken with the reason', async () => {
    const id = await newRep('rex@acme.test');
    nock(FEED_HOST).get('/gone.ics').reply(404);
    const res = await svc.web.inject({
      method: 'PUT',
      url: `/v1/reps/${id}/calendar`,
      headers: auth,
      payload: { source: 'ics', url: `${FEED_HOST}/gone.ics` },
    });
    expect(res.statusCode).toBe(202);
    const broken = await until<{ broken_reason: string }>(async () => {
      const res = await svc.web.inject({ method: 'GET', url: `/v1/reps/${id}/calendar`, headers: auth });
      return res.json().status === 'broken' ? res.json() : undefined;
    }, 'the connection to break');
    expect(broken.broken_reason).toMatch(/HTTP 404/);
  });

  it('when the URL is not http(s) or webcal, then 400 names the url field and nothing is stored', async () => {
    const id = await newRep('una@acme.test');
    for (const url of ['ftp://feeds.calendar.test/a.ics', 'not a url', '']) {
      const res = await svc.web.inject({
        method: 'PUT',
        url: `/v1/reps/${id}/calendar`,
        headers: auth,
        payload: { source: 'ics', url },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().errors.map((e: { field: string }) => e.field)).toEqual(['url']);
    }
    const { rows } = await svc.db.query('SELECT 1 FROM calendar_connections WHERE rep_id = $1', [id]);
    expect(rows).toEqual([]);
  });

  it('when the body has no url, an unknown source or an extra field, then 400 says what is wrong', async () => {
    const id = await newRep('val@acme.test');
    const put = (payload: unknown) =>
      svc.web.inject({
        method: 'PUT',
        url: `/v1/reps/${id}/calendar`,
        headers: auth,
        payload: payload as object,
      });
    const missing = await put({ source: 'ics' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0].field).toBe('url');
    const unknown = await put({ source: 'caldav', url: 'https://x.test/a.ics' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors[0].field).toBe('source');
    const extra = await put({ source: 'ics', url: 'https://x.test/a.ics', password: 'x' });
    expect(extra.statusCode).toBe(400);
  });

  it('when the rep does not exist or has no calendar, then 404', async () => {
    const missing = await svc.web.inject({
      method: 'PUT',
      url: '/v1/reps/00000000-0000-4000-8000-000000000000/calendar',
      headers: auth,
      payload: { source: 'ics', url: `${FEED_HOST}/a.ics` },
    });
    expect(missing.statusCode).toBe(404);
    const id = await newRep('nan@acme.test');
    const none = await svc.web.inject({ method: 'GET', url: `/v1/reps/${id}/calendar`, headers: auth });
    expect(none.statusCode).toBe(404);
    expect(none.json().detail).toMatch(/no calendar connected/);
  });

  it('when Google is put and only per-rep OAuth is configured, then 200 carries the consent link for the rep', async () => {
    const id = await newRep('gia@acme.test');
    const res = await svc.web.inject({
      method: 'PUT',
      url: `/v1/reps/${id}/calendar`,
      headers: auth,
      payload: { source: 'google' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ rep_id: id, source: 'google', status: 'authorize', first_sync: null });
    const url = new URL(res.json().authorize_url);
    expect(url.searchParams.get('redirect_uri')).toBe('https://briefly.example.com/oauth/google/callback');
    expect(url.searchParams.get('state')).toMatch(new RegExp(`^${id}\\.`));
  });

  it('when Microsoft is put but not set up, then 503 says which settings are missing', async () => {
    const id = await newRep('mo@acme.test');
    const res = await svc.web.inject({
      method: 'PUT',
      url: `/v1/reps/${id}/calendar`,
      headers: auth,
      payload: { source: 'microsoft' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().detail).toMatch(/MICROSOFT_CLIENT_ID/);
  });

  it('when the OpenAPI document is read, then it describes the calendar routes', async () => {
    const doc = (await svc.web.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths['/v1/reps/{id}/calendar'])).toEqual(['put', 'get']);
  });
});
