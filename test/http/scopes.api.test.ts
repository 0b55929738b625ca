import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let admin: { authorization: string };

beforeAll(async () => {
  svc = await startTestService({ EMAIL_PROVIDERS: 'file-outbox' });
  admin = await apiAuth(svc, ['admin']);
});
afterAll(async () => {
  await svc.close();
});

const call = (
  auth: { authorization: string } | undefined,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
) =>
  svc.web.inject({
    method,
    url,
    headers: auth ?? {},
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
const later = () => new Date(Date.now() + 86_400_000).toISOString();
const message = () => ({ to: ['ana@client.test'], subject: 'Hello', text: 'Hi', send_at: later() });

describe('API key scopes', () => {
  it('when a send-and-read key creates a rep (even an admin one), then 403 names the scope it lacks and nothing is stored', async () => {
    const key = await apiAuth(svc, ['send', 'read']);
    const res = await call(key, 'POST', '/v1/reps', {
      name: 'Mallory',
      email: 'mallory@acme.test',
      time_zone: 'Europe/Paris',
      role: 'admin',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().detail).toMatch(/lacks the "admin" scope/);
    expect((await svc.db.query('SELECT count(*)::int AS n FROM reps')).rows[0].n).toBe(0);
    expect((await call(key, 'GET', '/v1/reps')).statusCode).toBe(200);
  });

  it('when a read-only key sends, or a send-only key reads, then 403', async () => {
    const reader = await apiAuth(svc, ['read']);
    expect((await call(reader, 'POST', '/v1/messages', message())).statusCode).toBe(403);
    const sender = await apiAuth(svc, ['send']);
    expect((await call(sender, 'POST', '/v1/messages', message())).statusCode).toBe(202);
    expect((await call(sender, 'GET', '/v1/messages')).statusCode).toBe(403);
    expect((await call(sender, 'POST', '/v1/messages/redrive', {})).statusCode).toBe(403);
    expect((await call(sender, 'DELETE', '/v1/suppressions/a%40client.test')).statusCode).toBe(403);
  });

  it("when a key reads another key's message, then it is not found unless the key has read:all", async () => {
    const alice = await apiAuth(svc, ['send', 'read']);
    const bob = await apiAuth(svc, ['send', 'read']);
    const auditor = await apiAuth(svc, ['read:all']);
    const mine = (await call(alice, 'POST', '/v1/messages', message())).json().id;
    const theirs = (await call(bob, 'POST', '/v1/messages', message())).json().id;

    expect((await call(alice, 'GET', `/v1/messages/${mine}`)).statusCode).toBe(200);
    expect((await call(alice, 'GET', `/v1/messages/${theirs}`)).statusCode).toBe(404);
    const listed = (await call(alice, 'GET', '/v1/messages'))
      .json()
      .messages.map((m: { id: string }) => m.id);
    expect(listed).toEqual([mine]);
    expect((await call(alice, 'POST', `/v1/messages/${theirs}/cancel`)).statusCode).toBe(404);
    expect((await call(bob, 'GET', `/v1/messages/${theirs}`)).json().status).toBe('queued');

    expect((await call(auditor, 'GET', `/v1/messages/${theirs}`)).statusCode).toBe(200);
    const all = (await call(auditor, 'GET', '/v1/messages')).json().messages.map((m: { id: string }) => m.id);
    expect(all).toEqual(expect.arrayContaining([mine, theirs]));
    expect((await call(admin, 'GET', `/v1/messages/${mine}`)).statusCode).toBe(200);
  });

  it('when the OpenAPI document is read, then each operation names its scope', async () => {
    const doc = (await call(undefined, 'GET', '/openapi.json')).json();
    expect(doc.paths['/v1/messages'].post['x-scope']).toBe('send');
    expect(doc.paths['/v1/messages'].post.description).toMatch(/`send` scope/);
    expect(doc.paths['/v1/reps'].post['x-scope']).toBe('admin');
    expect(doc.paths['/v1/messages/{id}'].get.responses['403']).toBeDefined();
  });
});

describe('operational endpoints', () => {
  it('when /readyz is asked anonymously or with a non-admin key, then it says only whether it is ready', async () => {
    const anonymous = await call(undefined, 'GET', '/readyz');
    expect(anonymous.statusCode).toBe(200);
    expect(anonymous.json()).toEqual({ status: 'ready' });
    const sender = await call(await apiAuth(svc, ['send']), 'GET', '/readyz');
    expect(sender.json()).toEqual({ status: 'ready' });
    const detailed = await call(admin, 'GET', '/readyz');
    expect(detailed.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('when /metrics is asked on the API port, then 404; the metrics port on loopback serves it', async () => {
    expect((await call(undefined, 'GET', '/metrics')).statusCode).toBe(404);
    const url = new URL(svc.metricsUrl as string);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).not.toBe(new URL(svc.url as string).port);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('http_request_duration_seconds');
  });

  it('when /docs is fetched, then security headers are sent', async () => {
    const res = await call(undefined, 'GET', '/docs/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBeDefined();
    expect(res.headers['x-frame-options']).toBeDefined();
  });
});
