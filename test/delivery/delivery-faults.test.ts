import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accepted, type FakeAnswer, startFakeSendgrid } from '../helpers/fake-sendgrid.ts';
import { generateSendgridKeyPair, signSendgrid } from '../helpers/sendgrid.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';
import { startSmtpServer } from '../helpers/smtp.ts';

/**
 * Black-box delivery faults: a real service (PostgreSQL, Redis, BullMQ workers) against a fake
 * SendGrid on loopback and a real SMTP server on loopback.
 */

type FakeSendgrid = Awaited<ReturnType<typeof startFakeSendgrid>>;
type Smtp = Awaited<ReturnType<typeof startSmtpServer>>;

let smtp: Smtp;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(async () => {
  await smtp.close();
});

async function start(sendgrid: FakeSendgrid, env: Record<string, string> = {}) {
  const svc = await startTestService({
    EMAIL_PROVIDERS: 'sendgrid,smtp',
    SENDGRID_API_KEY: 'SG.test-key-0123456789',
    SENDGRID_BASE_URL: sendgrid.url,
    SMTP_URL: smtp.url,
    EMAIL_PROVIDER_TIMEOUT_MS: '300',
    DELIVERY_BACKOFF_MS: '200',
    ...env,
  });
  return { svc, auth: await apiAuth(svc) };
}

async function send(
  svc: TestService,
  auth: { authorization: string },
  subject: string,
  to = 'ana@client.test',
) {
  const res = await svc.web.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: auth,
    payload: { to: [to], subject, text: 'Hello' },
  });
  expect(res.statusCode).toBe(202);
  return res.json().id as string;
}

const row = async (svc: TestService, id: string) =>
  (await svc.db.query('SELECT status, provider, provider_message_id FROM messages WHERE id = $1', [id]))
    .rows[0];
const smtpCopies = (id: string) => smtp.received.filter((m) => m.raw.includes(id));

describe('garbage success answers', () => {
  let sendgrid: FakeSendgrid;
  let svc: TestService;
  let auth: { authorization: string };
  beforeAll(async () => {
    sendgrid = await startFakeSendgrid((r) => {
      const subject = String(r.body.subject ?? '');
      if (subject === 'captive portal')
        return {
          status: 200,
          headers: { 'content-type': 'text/html' },
          body: '<html>Sign in to Wi-Fi</html>',
        };
      if (subject === 'redirect') return { status: 302, headers: { location: 'http://portal.test/' } };
      if (subject === 'no id') return { status: 202 };
      return accepted(r.id);
    });
    ({ svc, auth } = await start(sendgrid));
  });
  afterAll(async () => {
    await svc.close();
    await sendgrid.close();
  });

  it('when SendGrid answers 200 with an HTML page, 302, or 202 without X-Message-Id, then the message is not recorded as sent by SendGrid: it fails over to SMTP', async () => {
    const ids = [
      await send(svc, auth, 'captive portal'),
      await send(svc, auth, 'redirect'),
      await send(svc, auth, 'no id'),
    ];
    await vi.waitFor(
      async () => {
        for (const id of ids) expect(await row(svc, id)).toMatchObject({ status: 'sent', provider: 'smtp' });
      },
      { timeout: 15_000, interval: 100 },
    );
    for (const id of ids) {
      expect(sendgrid.sendsOf(id)).toHaveLength(1);
      expect(smtpCopies(id)).toHaveLength(1);
    }
  });

  it('when SendGrid answers 202 with an X-Message-Id, then the message is sent with that id', async () => {
    const id = await send(svc, auth, 'fine');
    await vi.waitFor(async () => expect((await row(svc, id)).status).toBe('sent'), { timeout: 10_000 });
    expect(await row(svc, id)).toMatchObject({
      provider: 'sendgrid',
      provider_message_id: expect.stringMatching(/^fake-/),
    });
    expect(smtpCopies(id)).toHaveLength(0);
  });
});

describe('timeout after SendGrid received the request', () => {
  it('when SendGrid never answers, then the message is retried on SendGrid only, fails over to SMTP only after DELIVERY_UNKNOWN_OUTCOME_WAIT_MS, and the unknown outcomes are counted', async () => {
    const sendgrid = await startFakeSendgrid((r) => (r.sandbox ? { status: 200 } : 'hang'));
    const { svc, auth } = await start(sendgrid, { DELIVERY_UNKNOWN_OUTCOME_WAIT_MS: '2500' });
    try {
      const id = await send(svc, auth, 'slow vendor');
      await vi.waitFor(
        async () => expect(await row(svc, id)).toMatchObject({ status: 'sent', provider: 'smtp' }),
        {
          timeout: 20_000,
          interval: 100,
        },
      );
      const first = sendgrid.sendsOf(id)[0]?.at ?? Number.NaN;
      expect(sendgrid.sendsOf(id).length).toBeGreaterThanOrEqual(2);
      expect(smtpCopies(id)).toHaveLength(1);
      // Ordering, not performance: SMTP was not tried until the wait without a webhook had passed.
      const { rows } = await svc.db.query(
        "SELECT at FROM message_events WHERE message_id = $1 AND type = 'sent'",
        [id],
      );
      expect(rows[0].at.getTime() - first).toBeGreaterThanOrEqual(2_500);
      const metrics = await fetch(svc.metricsUrl as string).then((r) => r.text());
      const unknown = /briefly_email_unknown_outcomes_total\{provider="sendgrid"\} (\d+)/.exec(metrics);
      expect(Number(unknown?.[1])).toBe(sendgrid.sendsOf(id).length);
    } finally {
      await svc.close();
      await sendgrid.close();
    }
  });

  it('when SendGrid times out but its webhook then reports the message, then it is sent by SendGrid, never sent again and never through SMTP', async () => {
    const pair = generateSendgridKeyPair();
    const privateKey: KeyObject = pair.privateKey;
    const sendgrid = await startFakeSendgrid((r) => (r.sandbox ? { status: 200 } : 'hang'));
    const { svc, auth } = await start(sendgrid, {
      DELIVERY_UNKNOWN_OUTCOME_WAIT_MS: '60000',
      DELIVERY_BACKOFF_MS: '1500',
      SENDGRID_WEBHOOK_PUBLIC_KEY: pair.publicKeyBase64,
    });
    try {
      const id = await send(svc, auth, 'received, answer lost');
      await vi.waitFor(() => expect(sendgrid.sendsOf(id)).toHaveLength(1), { timeout: 10_000, interval: 50 });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const body = `${JSON.stringify([
        {
          email: 'ana@client.test',
          timestamp: Math.floor(Date.now() / 1000),
          event: 'processed',
          sg_event_id: `evt-${id}`,
          sg_message_id: 'sgid-77.filterdrecv-1.0',
          briefly_message_id: id,
        },
      ])}\r\n`;
      const hook = await svc.web.inject({
        method: 'POST',
        url: '/webhooks/sendgrid',
        headers: {
          'content-type': 'application/json',
          'x-twilio-email-event-webhook-signature': signSendgrid(privateKey, timestamp, body),
          'x-twilio-email-event-webhook-timestamp': timestamp,
        },
        payload: body,
      });
      expect(hook.statusCode).toBeLessThan(300);
      await vi.waitFor(async () => expect((await row(svc, id)).status).toBe('sent'), { timeout: 10_000 });
      // Longer than the retry backoff: a retry, had one been scheduled, would have happened.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await row(svc, id)).toMatchObject({
        status: 'sent',
        provider: 'sendgrid',
        provider_message_id: 'sgid-77',
      });
      expect(sendgrid.sendsOf(id)).toHaveLength(1);
      expect(smtpCopies(id)).toHaveLength(0);
    } finally {
      await svc.close();
      await sendgrid.close();
    }
  });
});

describe('probe while SendGrid rate-limits sending', () => {
  it('when mail/send answers 429 but GET /v3/scopes answers 200, then the probe keeps the circuit open; once sending works, a half-open trial of real messages closes it', async () => {
    const reset = () => String(Math.floor(Date.now() / 1000) + 1);
    const sendgrid = await startFakeSendgrid(
      (r): FakeAnswer =>
        r.path.startsWith('/v3/scopes')
          ? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"scopes":["mail.send"]}' }
          : {
              status: 429,
              headers: { 'content-type': 'application/json', 'X-RateLimit-Reset': reset() },
              body: '{"errors":[{"field":null,"message":"too many requests"}]}',
            },
    );
    const { svc, auth } = await start(sendgrid, {
      CIRCUIT_REOPEN_BACKOFF_MS: '100',
      CIRCUIT_HALF_OPEN_TRIALS: '2',
    });
    const probe = async () => {
      const job = await svc.queues
        .get('maintenance')
        .add('provider-probe', {}, { jobId: `probe-${Date.now()}-${Math.random()}` });
      await vi.waitFor(async () => expect(await job.getState()).toBe('completed'), {
        timeout: 10_000,
        interval: 50,
      });
    };
    const swaps = async () =>
      (
        await svc.db.query("SELECT state FROM provider_swaps WHERE provider = 'sendgrid' ORDER BY id")
      ).rows.map((r) => r.state);
    try {
      expect(await svc.delivery.setCircuit('sendgrid', 'open', 'test outage', 'test')).toBe(true);
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        await probe();
      }
      expect((await svc.delivery.provider.states())[0]?.state).toBe('open');
      expect(await swaps()).toEqual(['open']);
      const probes = sendgrid.requests.filter((r) => r.sandbox);
      expect(probes.length).toBeGreaterThan(0);

      sendgrid.setAnswer((r) => (r.sandbox ? { status: 200 } : accepted(r.id)));
      await new Promise((resolve) => setTimeout(resolve, 150));
      await probe();
      expect((await svc.delivery.provider.states())[0]?.state).toBe('half_open');
      expect(await swaps()).toEqual(['open']);

      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push(await send(svc, auth, `trial ${i}`));
      await vi.waitFor(
        async () => {
          for (const id of ids) expect((await row(svc, id)).status).toBe('sent');
        },
        { timeout: 10_000, interval: 100 },
      );
      await vi.waitFor(async () => expect(await swaps()).toEqual(['open', 'closed']), { timeout: 10_000 });
      expect((await svc.delivery.provider.states())[0]?.state).toBe('closed');
      const after = await send(svc, auth, 'after trial');
      await vi.waitFor(
        async () => expect(await row(svc, after)).toMatchObject({ status: 'sent', provider: 'sendgrid' }),
        {
          timeout: 10_000,
        },
      );
    } finally {
      await svc.close();
      await sendgrid.close();
    }
  });
});
