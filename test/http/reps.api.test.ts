import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_CACHE_MS, ApiKeyService } from '../../src/api-keys/api-key.service.ts';
import { AuditRepository } from '../../src/audit/audit.repository.ts';
import { createDatabase } from '../../src/db/client.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let key: string;
let keys: ApiKeyService;
let db: ReturnType<typeof createDatabase>;

beforeAll(async () => {
  svc = await startTestService({ API_BODY_LIMIT_BYTES: '4096' });
  db = createDatabase(svc.db);
  keys = new ApiKeyService(db, new AuditRepository(db));
  key = (await keys.create('tests', 'test', ['admin'])).key;
});
afterAll(async () => svc.close());

const auth = () => ({ authorization: `Bearer ${key}` });
const ana = { name: 'Ana Lima', email: 'ana@acme.com', time_zone: 'America/New_York' };

describe('REST API /v1/reps', () => {
  it('when no API key is sent, then the answer is 401 saying how to authenticate', async () => {
    const res = await svc.web.inject({ method: 'GET', url: '/v1/reps' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().detail).toMatch(/Authorization: Bearer/);
  });

  it('when the API key is unknown, then the answer is 401', async () => {
    const res = await svc.web.inject({
      method: 'GET',
      url: '/v1/reps',
      headers: { authorization: 'Bearer brf_nope' },
    });
    expect(res.statusCode).toBe(401);
  });

  it('when the API key was revoked by another process, then within API_KEY_CACHE_MS the answer is 401', async () => {
    const created = await keys.create('short-lived', 'test');
    const get = () =>
      svc.web.inject({
        method: 'GET',
        url: '/v1/reps',
        headers: { authorization: `Bearer ${created.key}` },
      });
    expect((await get()).statusCode).toBe(200);
    // `keys` is not the web role's instance (like the CLI): the web process's cached copy of the
    // key is trusted until it expires, then the key is looked up again and refused.
    await keys.revoke(created.id, 'test');
    const revokedAt = Date.now();
    let res = await get();
    while (res.statusCode === 200 && Date.now() - revokedAt < API_KEY_CACHE_MS + 1_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await get();
    }
    expect(res.statusCode).toBe(401);
    expect(res.json().detail).toMatch(/revoked/);
  });

  it('when the API key was revoked through the same service, then the next request is refused', async () => {
    const own = new ApiKeyService(db, new AuditRepository(db));
    const created = await own.create('same-process', 'test');
    expect(await own.authenticate(created.key)).toMatchObject({ id: created.id });
    await own.revoke(created.id, 'test');
    expect(await own.authenticate(created.key)).toBeUndefined();
  });

  it('when only a hash is stored, then the key itself is nowhere in the database', async () => {
    const { rows } = await svc.db.query('SELECT * FROM api_keys');
    expect(JSON.stringify(rows)).not.toContain(key);
  });

  it('when a rep is created, then it is returned with defaults and can be read back', async () => {
    const res = await svc.web.inject({ method: 'POST', url: '/v1/reps', headers: auth(), payload: ana });
    expect(res.statusCode).toBe(201);
    const rep = res.json();
    expect(rep).toMatchObject({
      ...ana,
      briefing_time: '08:00',
      prep_time: '05:00',
      role: 'rep',
      calendar_source: 'google',
      slack_user_id: null,
    });
    const got = await svc.web.inject({ method: 'GET', url: `/v1/reps/${rep.id}`, headers: auth() });
    expect(got.json()).toEqual(rep);
  });

  it('when the body is invalid, then 400 names every wrong field and nothing is stored', async () => {
    const before = (await svc.db.query('SELECT count(*)::int n FROM reps')).rows[0].n;
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/reps',
      headers: auth(),
      payload: {
        name: '',
        email: 'nope',
        time_zone: 'Mars/Base',
        briefing_time: '25:00',
        role: 'boss',
        extra: 1,
      },
    });
    expect(res.statusCode).toBe(400);
    const fields = res
      .json()
      .errors.map((e: { field: string }) => e.field)
      .sort();
    expect(fields).toEqual(['(body)', 'briefing_time', 'email', 'name', 'role', 'time_zone']);
    expect(res.json().errors.find((e: { field: string }) => e.field === 'time_zone').message).toMatch(/IANA/);
    expect((await svc.db.query('SELECT count(*)::int n FROM reps')).rows[0].n).toBe(before);
  });

  it('when the body is not JSON, then 400 says so', async () => {
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/reps',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/not valid JSON/);
  });

  it('when the body is larger than the limit, then the answer is 413', async () => {
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/reps',
      headers: auth(),
      payload: { ...ana, name: 'x'.repeat(5000) },
    });
    expect(res.statusCode).toBe(413);
  });

  it('when the email is taken, then 409 names the email field', async () => {
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/reps',
      headers: auth(),
      payload: { ...ana, email: 'ANA@acme.com' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().errors).toEqual([{ field: 'email', message: 'is already used by another rep' }]);
  });

  it('when an unknown id is read, patched or deleted, then the answer is 404', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await svc.web.inject({
        method,
        url: `/v1/reps/${id}`,
        headers: auth(),
        ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}),
      });
      expect(res.statusCode, method).toBe(404);
    }
  });

  it('when the id is not a UUID, then 400 names path.id', async () => {
    const res = await svc.web.inject({ method: 'GET', url: '/v1/reps/42', headers: auth() });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('path.id');
  });

  it('when a rep is patched, then only the given fields change', async () => {
    const created = (
      await svc.web.inject({
        method: 'POST',
        url: '/v1/reps',
        headers: auth(),
        payload: { ...ana, email: 'p@acme.com', role: 'manager' },
      })
    ).json();
    const res = await svc.web.inject({
      method: 'PATCH',
      url: `/v1/reps/${created.id}`,
      headers: auth(),
      payload: { briefing_time: '07:15' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ briefing_time: '07:15', role: 'manager', email: 'p@acme.com' });
    const empty = await svc.web.inject({
      method: 'PATCH',
      url: `/v1/reps/${created.id}`,
      headers: auth(),
      payload: {},
    });
    expect(empty.statusCode).toBe(400);
  });

  it('when a rep is deleted, then it is gone and the deletion is audit-logged', async () => {
    const created = (
      await svc.web.inject({
        method: 'POST',
        url: '/v1/reps',
        headers: auth(),
        payload: { ...ana, email: 'd@acme.com' },
      })
    ).json();
    const res = await svc.web.inject({
      method: 'DELETE',
      url: `/v1/reps/${created.id}`,
      headers: auth(),
    });
    expect(res.statusCode).toBe(204);
    const again = await svc.web.inject({ method: 'GET', url: `/v1/reps/${created.id}`, headers: auth() });
    expect(again.statusCode).toBe(404);
    const audit = await svc.db.query(
      "SELECT actor FROM audit_log WHERE action = 'rep.delete' AND subject = $1",
      [created.id],
    );
    expect(audit.rows[0].actor).toMatch(/^api-key:/);
  });

  it('when listing with a limit, then pages follow next_cursor without gaps or repeats', async () => {
    for (let i = 0; i < 5; i++) {
      await svc.web.inject({
        method: 'POST',
        url: '/v1/reps',
        headers: auth(),
        payload: { ...ana, name: `Page ${i}`, email: `page${i}@acme.com` },
      });
    }
    const total = (await svc.db.query('SELECT count(*)::int n FROM reps')).rows[0].n;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/reps?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await svc.web.inject({ method: 'GET', url, headers: auth() })).json();
      seen.push(...page.reps.map((r: { id: string }) => r.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    const bad = await svc.web.inject({
      method: 'GET',
      url: '/v1/reps?cursor=garbage&limit=0',
      headers: auth(),
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('service endpoints', () => {
  it('when /healthz is asked, then it answers ok', async () => {
    expect((await svc.web.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });

  it('when PostgreSQL and Redis are up, then /readyz is 200 with both checks ok for an admin key', async () => {
    const res = await svc.web.inject({
      method: 'GET',
      url: '/readyz',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().checks).toEqual({ postgres: 'ok', redis: 'ok' });
  });

  it('when /metrics is scraped on the metrics port, then it has process, HTTP and queue metrics', async () => {
    const res = await fetch(svc.metricsUrl as string).then(async (r) => ({ body: await r.text() }));
    expect(res.body).toContain('process_cpu_user_seconds_total');
    expect(res.body).toMatch(/http_request_duration_seconds_bucket\{.*route="\/v1\/reps"/);
    expect(res.body).toMatch(/bullmq_jobs\{queue="maintenance",state="waiting"\} \d+/);
  });

  it('when /openapi.json is fetched, then it documents every reps operation with its schemas', async () => {
    const doc = (await svc.web.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths['/v1/reps'])).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/reps/{id}'])).toEqual(['get', 'patch', 'delete']);
    const body = doc.paths['/v1/reps'].post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['name', 'email', 'time_zone']);
    expect(doc.paths['/v1/reps/{id}'].get.responses['404']).toBeDefined();
  });

  it('when /docs is opened, then the Swagger UI page is served', async () => {
    const res = await svc.web.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('swagger');
  });
});
