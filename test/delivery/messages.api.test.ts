import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

const SENDGRID = 'https://sendgrid.test';
let svc: TestService;
let auth: { authorization: string };

interface SentBody {
  personalizations: { to: { email: string }[] }[];
  subject: string;
  custom_args: { briefly_message_id: string };
  content: { type: string; value: string }[];
}

/**
 * Real sends only: the provider probe also posts mail/send (in sandbox mode) and must not take
 * an answer meant for a message.
 */
const realSend = (body: { mail_settings?: { sandbox_mode?: { enable?: boolean } } }) =>
  body.mail_settings?.sandbox_mode?.enable !== true;

/** Real sends of one subject only: a message of an earlier test still retrying must not take the answer. */
const sendsOf =
  (subject: string) =>
  (body: { subject?: string; mail_settings?: { sandbox_mode?: { enable?: boolean } } }) =>
    realSend(body) && body.subject === subject;

/** Fakes SendGrid's mail/send; records each body it received. */
function fakeSendgrid(times: number, status = 202, body: unknown = '') {
  const received: SentBody[] = [];
  const scope = nock(SENDGRID)
    .post('/v3/mail/send', realSend)
    .times(times)
    .reply((_uri, requestBody) => {
      received.push(requestBody as SentBody);
      return [status, body as string, { 'X-Message-Id': `sg-${received.length}` }];
    });
  return { scope, received };
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({
    EMAIL_PROVIDERS: 'sendgrid',
    SENDGRID_API_KEY: 'SG.test-key-0123456789',
    SENDGRID_BASE_URL: SENDGRID,
    EMAIL_PROVIDER_TIMEOUT_MS: '2000',
    DELIVERY_BACKOFF_MS: '50',
    DELIVERY_MAX_ATTEMPTS: '3',
    API_BODY_LIMIT_BYTES: '20000',
    MESSAGE_ATTACHMENTS_MAX_BYTES: '3000',
    EMAIL_FROM: 'Briefly <briefly@acme.test>',
  });
  auth = await apiAuth(svc);
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  svc.web.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { ...auth, ...headers },
    payload: payload as object,
  });
const get = (url: string) => svc.web.inject({ method: 'GET', url, headers: auth });
const count = async () => Number((await svc.db.query('SELECT count(*) FROM messages')).rows[0].count);
const statusOf = async (id: string) => (await get(`/v1/messages/${id}`)).json().status;

const simple = { to: ['ana@client.test'], subject: 'Hello', text: 'Hi Ana', tags: ['invoice'] };

describe('POST /v1/messages', () => {
  it('when a valid message is posted, then it is accepted, sent through SendGrid with our id, and its trail is complete', async () => {
    const sg = fakeSendgrid(1);
    const res = await post({ ...simple, html: '<p>Hi Ana</p>', priority: 'high', metadata: { invoice: 42 } });
    expect(res.statusCode).toBe(202);
    const { id, status } = res.json();
    expect(status).toBe('queued');
    await vi.waitFor(async () => expect(await statusOf(id)).toBe('sent'), { timeout: 10_000 });
    expect(sg.received).toHaveLength(1);
    expect(sg.received[0]?.custom_args.briefly_message_id).toBe(id);
    expect(sg.received[0]?.subject).toBe('Hello');
    const message = (await get(`/v1/messages/${id}`)).json();
    expect(message).toMatchObject({
      status: 'sent',
      priority: 'high',
      provider: 'sendgrid',
      provider_message_id: 'sg-1',
      from: { email: 'briefly@acme.test', name: 'Briefly' },
      metadata: { invoice: 42 },
    });
    expect(message.events.map((e: { type: string }) => e.type)).toEqual([
      'accepted',
      'queued',
      'sending',
      'sent',
    ]);
  });

  it('when the body is invalid, then 400 names each wrong field and nothing is stored', async () => {
    const before = await count();
    const res = await post({ to: ['not-an-email'], subject: '', priority: 'urgent', extra: 1 });
    expect(res.statusCode).toBe(400);
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['to.0', 'subject', 'priority']));
    expect(await count()).toBe(before);
  });

  it('when neither html, text nor a template is given, or more than 50 recipients, then 400 says so', async () => {
    const noBody = await post({ to: ['a@b.test'], subject: 'x' });
    expect(noBody.json().errors[0]).toMatchObject({
      field: 'html',
      message: expect.stringMatching(/template/),
    });
    const many = await post({ ...simple, to: Array.from({ length: 51 }, (_, i) => `r${i}@b.test`) });
    expect(many.statusCode).toBe(400);
    expect(many.json().errors[0].field).toBe('to');
  });

  it('when the body is larger than the limit, then 413 and nothing is stored', async () => {
    const before = await count();
    const res = await post({ ...simple, text: 'x'.repeat(30_000) });
    expect(res.statusCode).toBe(413);
    expect(await count()).toBe(before);
  });

  it('when a template is named, then it is rendered to HTML and text; bad template data is a 400 naming the field', async () => {
    const sg = fakeSendgrid(1);
    const res = await post({
      to: ['ana@client.test'],
      subject: 'Password changed',
      template: 'notification',
      data: { heading: 'Your password was changed', paragraphs: ['It was you, we hope.'] },
    });
    expect(res.statusCode).toBe(202);
    await vi.waitFor(async () => expect(await statusOf(res.json().id)).toBe('sent'), { timeout: 10_000 });
    const content = sg.received[0]?.content ?? [];
    expect(content.map((c) => c.type)).toEqual(['text/plain', 'text/html']);
    expect(content[1]?.value).toContain('Your password was changed');
    expect(content[0]?.value).toContain('It was you, we hope.');

    const bad = await post({
      to: ['a@b.test'],
      subject: 'x',
      template: 'notification',
      data: { paragraphs: [] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['data.heading', 'data.paragraphs']),
    );
  });
});

describe('Idempotency-Key', () => {
  it('when the same key and body are posted twice, then the same message comes back and one is stored', async () => {
    fakeSendgrid(1);
    const before = await count();
    const first = await post(simple, { 'idempotency-key': 'order-1001' });
    const second = await post(simple, { 'idempotency-key': 'order-1001' });
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    expect(second.json().id).toBe(first.json().id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await count()).toBe(before + 1);
  });

  it('when the same key comes with a different body, then 409 and nothing new is stored', async () => {
    fakeSendgrid(1);
    await post(simple, { 'idempotency-key': 'order-1002' });
    const before = await count();
    const res = await post({ ...simple, subject: 'Changed' }, { 'idempotency-key': 'order-1002' });
    expect(res.statusCode).toBe(409);
    expect(res.json().errors[0].field).toBe('Idempotency-Key');
    expect(await count()).toBe(before);
  });
});

describe('GET /v1/messages', () => {
  it('when filtered by tag and paged, then pages are disjoint, newest first, and end with a null cursor', async () => {
    fakeSendgrid(5);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post({ ...simple, tags: ['paging'] })).json().id);
    const page1 = (await get('/v1/messages?tag=paging&limit=3')).json();
    expect(page1.messages).toHaveLength(3);
    const page2 = (await get(`/v1/messages?tag=paging&limit=3&cursor=${page1.next_cursor}`)).json();
    expect(page2.messages).toHaveLength(2);
    expect(page2.next_cursor).toBeNull();
    const seen = [...page1.messages, ...page2.messages].map((m: { id: string }) => m.id);
    expect(seen).toEqual([...ids].reverse());
  });

  it('when a filter is malformed or the id unknown, then 400 or 404', async () => {
    expect((await get('/v1/messages?status=lost')).statusCode).toBe(400);
    expect((await get('/v1/messages?cursor=garbage')).statusCode).toBe(400);
    expect((await get('/v1/messages/0b6f1c1e-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await get('/v1/messages/not-a-uuid')).statusCode).toBe(400);
  });
});

describe('cancel and redrive', () => {
  it('when a future message is cancelled, then it is never sent and a second cancel is 409', async () => {
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const { id } = (await post({ ...simple, send_at: sendAt })).json();
    const job = await svc.queues.get('email-delivery').getJob(`msg-${id}-0`);
    expect(await job?.isDelayed()).toBe(true);
    const res = await svc.web.inject({ method: 'POST', url: `/v1/messages/${id}/cancel`, headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('cancelled');
    expect(await svc.queues.get('email-delivery').getJob(`msg-${id}-0`)).toBeUndefined();
    const again = await svc.web.inject({ method: 'POST', url: `/v1/messages/${id}/cancel`, headers: auth });
    expect(again.statusCode).toBe(409);
  });

  it('when SendGrid rejects a message permanently, then it fails at once; a redrive sends it and is audit-logged', async () => {
    const mine = sendsOf('Redrive me');
    nock(SENDGRID)
      .post('/v3/mail/send', mine)
      .reply(400, {
        errors: [{ message: 'The from address does not match a verified Sender Identity', field: 'from' }],
      });
    const { id } = (await post({ ...simple, subject: 'Redrive me', tags: ['redrive-me'] })).json();
    await vi.waitFor(async () => expect(await statusOf(id)).toBe('failed'), { timeout: 10_000 });
    const failed = (await get(`/v1/messages/${id}`)).json();
    expect(failed.attempts).toBe(1);
    expect(failed.last_error).toMatch(/verified Sender Identity/);

    nock(SENDGRID).post('/v3/mail/send', mine).reply(202, '', { 'X-Message-Id': 'sg-redriven' });
    const res = await svc.web.inject({
      method: 'POST',
      url: '/v1/messages/redrive',
      headers: auth,
      payload: { tag: 'redrive-me' },
    });
    expect(res.json()).toMatchObject({ requeued: 1, ids: [id] });
    await vi.waitFor(async () => expect(await statusOf(id)).toBe('sent'), { timeout: 10_000 });
    const audit = await svc.db.query("SELECT actor FROM audit_log WHERE action = 'message.redrive'");
    expect(audit.rows[0]?.actor).toMatch(/^api-key:/);
  });

  it('when SendGrid answers 500 then 202, then the message is deferred, retried and sent', async () => {
    const mine = sendsOf('Retry me');
    nock(SENDGRID).post('/v3/mail/send', mine).reply(500, '<html>oops</html>');
    nock(SENDGRID).post('/v3/mail/send', mine).reply(202, '', { 'X-Message-Id': 'sg-retried' });
    const { id } = (await post({ ...simple, subject: 'Retry me' })).json();
    await vi.waitFor(async () => expect(await statusOf(id)).toBe('sent'), { timeout: 10_000 });
    const types = (await get(`/v1/messages/${id}`)).json().events.map((e: { type: string }) => e.type);
    expect(types).toEqual(['accepted', 'queued', 'sending', 'deferred', 'sending', 'sent']);
  });
});

describe('suppressions', () => {
  it('when an address is suppressed, then a message to it is recorded as suppressed and SendGrid is not called', async () => {
    const add = await svc.web.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: auth,
      payload: { email: 'Gone@Client.test', reason: 'asked us to stop' },
    });
    expect(add.statusCode).toBe(204);
    const sg = fakeSendgrid(1);
    const { id } = (await post({ ...simple, to: ['gone@client.test'] })).json();
    await vi.waitFor(async () => expect(await statusOf(id)).toBe('suppressed'), { timeout: 10_000 });
    expect(sg.received).toHaveLength(0);
    expect((await get('/v1/suppressions/gone@client.test')).json()).toMatchObject({
      reason: 'asked us to stop',
    });
    const del = await svc.web.inject({
      method: 'DELETE',
      url: '/v1/suppressions/gone@client.test',
      headers: auth,
    });
    expect(del.statusCode).toBe(204);
    expect((await get('/v1/suppressions/gone@client.test')).statusCode).toBe(404);
  });

  it('when one of several recipients is suppressed, then only the others receive it', async () => {
    await svc.web.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: auth,
      payload: { email: 'x@client.test' },
    });
    const sg = fakeSendgrid(1);
    const { id } = (await post({ ...simple, to: ['x@client.test', 'y@client.test'] })).json();
    await vi.waitFor(async () => expect(await statusOf(id)).toBe('sent'), { timeout: 10_000 });
    expect(sg.received[0]?.personalizations[0]?.to.map((a) => a.email)).toEqual(['y@client.test']);
  });
});

describe('rate limit', () => {
  it('when a key exceeds its per-minute limit, then 429 with Retry-After and nothing stored', async () => {
    const limited = await startTestService({ API_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const headers = await apiAuth(limited);
      const call = () =>
        limited.web.inject({ method: 'POST', url: '/v1/messages', headers, payload: simple });
      expect((await call()).statusCode).toBe(202);
      expect((await call()).statusCode).toBe(202);
      const third = await call();
      expect(third.statusCode).toBe(429);
      expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const stored = await limited.db.query('SELECT count(*) FROM messages');
      expect(Number(stored.rows[0].count)).toBe(2);
    } finally {
      await limited.close();
    }
  });
});
