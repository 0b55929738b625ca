import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDatabase } from '../../src/db/client.ts';
import { SettingsRepository } from '../../src/settings/settings.repository.ts';
import { apiAuth, SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';
import { decodeSlackBody } from '../helpers/slack.ts';
import { startSmtpServer } from '../helpers/smtp.ts';

const SENDGRID = 'https://sendgrid.test';
let svc: TestService;
let auth: { authorization: string };
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  smtp = await startSmtpServer();
  svc = await startTestService({
    EMAIL_PROVIDERS: 'sendgrid,smtp',
    SENDGRID_API_KEY: 'SG.test-key-0123456789',
    SENDGRID_BASE_URL: SENDGRID,
    SMTP_URL: smtp.url,
    EMAIL_PROVIDER_TIMEOUT_MS: '2000',
    CIRCUIT_CONSECUTIVE_FAILURES: '3',
    CIRCUIT_HALF_OPEN_TRIALS: '1',
    CIRCUIT_REOPEN_BACKOFF_MS: '100',
    DELIVERY_BACKOFF_MS: '50',
  });
  auth = await apiAuth(svc);
  await new SettingsRepository(createDatabase(svc.db)).setChannels({ alert_channel: 'CALERTS01' }, 'test');
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  await smtp.close();
  nock.enableNetConnect();
});

const send = async (subject: string) =>
  (
    await svc.web.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: auth,
      payload: { to: ['ana@client.test'], subject, text: 'Hello' },
    })
  ).json().id as string;
const message = async (id: string) =>
  (await svc.web.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: auth })).json();
const swaps = async () =>
  (await svc.db.query('SELECT provider, state, actor FROM provider_swaps ORDER BY id')).rows;

describe('provider failover', () => {
  it('when SendGrid fails every call, then the circuit opens once, mail goes via SMTP, and the swap is stored and alerted; when it recovers, a sandbox probe half-opens it and a trial message swaps traffic back', async () => {
    const posts: { channel: string; text: string }[] = [];
    nock(SLACK_HOST)
      .post('/api/chat.postMessage')
      .times(5)
      .reply(200, (_uri, body) => {
        posts.push(decodeSlackBody(body) as { channel: string; text: string });
        return { ok: true, channel: 'CALERTS01', ts: '1.2' };
      });
    let sendgridCalls = 0;
    nock(SENDGRID)
      .post('/v3/mail/send')
      .times(100)
      .reply(() => {
        sendgridCalls++;
        return [503, 'Service Unavailable'];
      });

    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await send(`outage ${i}`));
    await vi.waitFor(
      async () => {
        for (const id of ids)
          expect((await message(id)).status, JSON.stringify(await message(id))).toBe('sent');
      },
      { timeout: 15_000, interval: 200 },
    );
    for (const id of ids) expect((await message(id)).provider).toBe('smtp');
    expect(smtp.received.length).toBeGreaterThanOrEqual(10);
    // Circuit opened after 3 failures; only sends already in flight at that moment may still have hit SendGrid.
    expect(sendgridCalls).toBeLessThan(10);
    expect(await swaps()).toEqual([{ provider: 'sendgrid', state: 'open', actor: 'circuit-breaker' }]);
    await vi.waitFor(() => expect(posts.some((p) => /sendgrid/i.test(p.text))).toBe(true), {
      timeout: 10_000,
    });
    expect(posts[0]?.channel).toBe('CALERTS01');

    // After the swap, new mail goes straight to SMTP: SendGrid is not called.
    const before = sendgridCalls;
    const during = await send('while open');
    await vi.waitFor(async () => expect((await message(during)).status).toBe('sent'), { timeout: 10_000 });
    expect(sendgridCalls).toBe(before);

    nock.cleanAll();
    nock(SLACK_HOST)
      .post('/api/chat.postMessage')
      .times(5)
      .reply(200, (_uri, body) => {
        posts.push(decodeSlackBody(body) as { channel: string; text: string });
        return { ok: true, channel: 'CALERTS01', ts: '1.3' };
      });
    const probes: unknown[] = [];
    nock(SENDGRID)
      .post('/v3/mail/send')
      .times(5)
      .reply((_uri, body) => {
        const sandbox = (body as { mail_settings?: { sandbox_mode?: { enable?: boolean } } }).mail_settings
          ?.sandbox_mode?.enable;
        if (sandbox) probes.push(body);
        return sandbox ? [200, ''] : [202, '', { 'X-Message-Id': 'back-1' }];
      });
    await svc.queues.get('maintenance').add('provider-probe', {}, { jobId: `probe-${Date.now()}` });
    // The probe (a sandbox-mode send) half-opens the circuit; the next message is the trial.
    await vi.waitFor(async () => expect((await svc.delivery.provider.states())[0]?.state).toBe('half_open'), {
      timeout: 10_000,
    });
    expect(probes).toHaveLength(1);
    expect(await swaps()).toHaveLength(1);

    const after = await send('after recovery');
    await vi.waitFor(async () => expect((await message(after)).status).toBe('sent'), { timeout: 10_000 });
    expect((await message(after)).provider).toBe('sendgrid');
    await vi.waitFor(async () => expect((await swaps()).length).toBe(2), { timeout: 10_000 });
    expect((await swaps())[1]).toEqual({ provider: 'sendgrid', state: 'closed', actor: 'circuit-breaker' });
    await vi.waitFor(() => expect(posts.some((p) => /back/i.test(p.text))).toBe(true), { timeout: 10_000 });
  });
});
