import type { KeyObject } from 'node:crypto';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateSendgridKeyPair, signSendgrid } from '../helpers/sendgrid.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';

const SENDGRID = 'https://sendgrid.test';
let svc: TestService;
let auth: { authorization: string };
let privateKey: KeyObject;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  const pair = generateSendgridKeyPair();
  privateKey = pair.privateKey;
  svc = await startTestService({
    EMAIL_PROVIDERS: 'sendgrid',
    SENDGRID_API_KEY: 'SG.test-key-0123456789',
    SENDGRID_BASE_URL: SENDGRID,
    SENDGRID_WEBHOOK_PUBLIC_KEY: pair.publicKeyBase64,
  });
  auth = await apiAuth(svc);
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

/** Sends a batch exactly as SendGrid does: JSON array, CRLF at the end, signed over timestamp + body. */
function deliver(
  events: unknown[],
  options: { timestamp?: number; tamper?: boolean; signature?: string } = {},
) {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const body = `${JSON.stringify(events)}\r\n`;
  const signature = options.signature ?? signSendgrid(privateKey, timestamp, body);
  return svc.web.inject({
    method: 'POST',
    url: '/webhooks/sendgrid',
    headers: {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': signature,
      'x-twilio-email-event-webhook-timestamp': timestamp,
    },
    payload: options.tamper ? body.replace('delivered', 'dropped__') : body,
  });
}

async function sentMessage(to = 'ana@client.test'): Promise<string> {
  nock(SENDGRID)
    .post('/v3/mail/send')
    .reply(202, '', { 'X-Message-Id': `xmid-${Math.random()}` });
  const res = await svc.web.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: auth,
    payload: { to: [to], subject: 'Hi', text: 'Hello' },
  });
  const { id } = res.json();
  await vi.waitFor(async () => expect(await status(id)).toBe('sent'), { timeout: 10_000 });
  return id;
}

const status = async (id: string) =>
  (await svc.web.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: auth })).json().status;
const trail = async (id: string) =>
  (await svc.web.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: auth }))
    .json()
    .events.map((e: { type: string }) => e.type);

let seq = 0;
const event = (messageId: string, type: string, extra: Record<string, unknown> = {}) => ({
  email: 'ana@client.test',
  timestamp: Math.floor(Date.now() / 1000),
  event: type,
  sg_event_id: `evt-${++seq}-${Math.random()}`,
  sg_message_id: 'xmid.filterdrecv-1.0',
  briefly_message_id: messageId,
  ...extra,
});

describe('POST /webhooks/sendgrid', () => {
  it('when a validly signed batch arrives, then its events join the trail and the status moves forward', async () => {
    const id = await sentMessage();
    const res = await deliver([event(id, 'processed'), event(id, 'delivered', { response: '250 OK' })]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ stored: 2, duplicates: 0 });
    expect(await status(id)).toBe('delivered');
    expect(await trail(id)).toEqual(['accepted', 'queued', 'sending', 'sent', 'processed', 'delivered']);
  });

  it('when the body is tampered with, the timestamp is stale or the signature missing, then 401 and nothing is stored', async () => {
    const id = await sentMessage();
    const before = await trail(id);
    expect((await deliver([event(id, 'delivered')], { tamper: true })).statusCode).toBe(401);
    const stale = await deliver([event(id, 'delivered')], { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(stale.statusCode).toBe(401);
    expect(stale.json().detail).toMatch(/too old/);
    expect((await deliver([event(id, 'delivered')], { signature: 'garbage' })).statusCode).toBe(401);
    const unsigned = await svc.web.inject({
      method: 'POST',
      url: '/webhooks/sendgrid',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([event(id, 'delivered')]),
    });
    expect(unsigned.statusCode).toBe(401);
    expect(await trail(id)).toEqual(before);
  });

  it('when SendGrid retries the same batch, then each sg_event_id is stored once', async () => {
    const id = await sentMessage();
    const batch = [event(id, 'delivered'), event(id, 'open')];
    expect((await deliver(batch)).json()).toMatchObject({ stored: 2, duplicates: 0 });
    expect((await deliver(batch)).json()).toMatchObject({ stored: 0, duplicates: 2 });
    expect((await trail(id)).filter((t: string) => t === 'opened')).toHaveLength(1);
  });

  it('when a late delivered arrives after a bounce, then the message stays bounced and the address is suppressed', async () => {
    const id = await sentMessage('bouncy@client.test');
    await deliver([
      event(id, 'bounce', { email: 'bouncy@client.test', type: 'bounce', reason: '550 no such user' }),
    ]);
    await deliver([event(id, 'delivered', { email: 'bouncy@client.test' })]);
    expect(await status(id)).toBe('bounced');
    const suppression = await svc.web.inject({
      method: 'GET',
      url: '/v1/suppressions/bouncy@client.test',
      headers: auth,
    });
    expect(suppression.json()).toMatchObject({ reason: 'bounced', source: 'sendgrid', message_id: id });
  });

  it('when events are for unknown messages, unknown event names or malformed, then 200 and the rest are stored', async () => {
    const id = await sentMessage();
    const res = await deliver([
      event('00000000-0000-4000-8000-000000000000', 'delivered'),
      event(id, 'group_resubscribe'),
      { event: 'delivered' },
      event(id, 'click', { url: 'https://acme.test/pricing' }),
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ stored: 1, unknown: 1, ignored: 2 });
    expect(await status(id)).toBe('clicked');
  });

  it('when a signed event carries a NUL or an unpaired surrogate, then 200, that event is skipped and the rest are stored', async () => {
    const id = await sentMessage();
    const res = await deliver([
      event(id, 'bounce', { reason: '550 no such user\u0000', type: 'bounce' }),
      event(id, 'open', { useragent: 'x\ud800' }),
      event(id, 'delivered', { response: '250 OK' }),
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ stored: 1, ignored: 2 });
    expect(await status(id)).toBe('delivered');
    const warning = svc.log.lines().findLast((l) => l.includes('ignored SendGrid events'));
    expect(JSON.parse(warning as string)).toMatchObject({
      count: 2,
      first: { index: 0, reason: expect.stringMatching(/^reason: must not contain NUL/) },
    });
  });

  it('when the signed body is not a JSON array, then 400 names the body', async () => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const body = '{"event":"delivered"}';
    const res = await svc.web.inject({
      method: 'POST',
      url: '/webhooks/sendgrid',
      headers: {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signSendgrid(privateKey, timestamp, body),
        'x-twilio-email-event-webhook-timestamp': timestamp,
      },
      payload: body,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('(body)');
  });
});
