import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingEmail } from '../../../src/delivery/email-provider.ts';
import { ProviderError } from '../../../src/delivery/email-provider.ts';
import { SendGridEmailProvider } from '../../../src/delivery/providers/sendgrid.email-provider.ts';
import { startFakeSendgrid } from '../../helpers/fake-sendgrid.ts';

const BASE = 'https://sendgrid.test';
const KEY = 'SG.test-secret-key';
const provider = new SendGridEmailProvider({ apiKey: KEY, baseUrl: BASE, timeoutMs: 300 });

const email = (overrides: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  messageId: '5f0c1a52-1111-4222-8333-444455556666',
  from: { email: 'briefly@acme.test', name: 'Briefly' },
  to: [{ email: 'ana@client.test', name: 'Ana' }],
  cc: [{ email: 'cc@client.test' }],
  bcc: [],
  replyTo: { email: 'sales@acme.test' },
  subject: 'Your invoice',
  text: 'Plain',
  html: '<p>Html</p>',
  tags: ['invoice'],
  ...overrides,
});

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('SendGridEmailProvider', () => {
  it('when SendGrid answers 202, then the v3 request carries our id as custom arg and X-Message-Id is kept', async () => {
    let sent: Record<string, unknown> = {};
    let authorization = '';
    nock(BASE)
      .post('/v3/mail/send')
      .reply(function (_uri, body) {
        sent = body as Record<string, unknown>;
        authorization = String(this.req.headers.authorization);
        return [202, '', { 'X-Message-Id': 'xmid-123' }];
      });
    const result = await provider.send(email());
    expect(result).toEqual({ provider: 'sendgrid', providerMessageId: 'xmid-123' });
    expect(authorization).toBe(`Bearer ${KEY}`);
    expect(sent).toMatchObject({
      personalizations: [
        { to: [{ email: 'ana@client.test', name: 'Ana' }], cc: [{ email: 'cc@client.test' }] },
      ],
      from: { email: 'briefly@acme.test', name: 'Briefly' },
      reply_to: { email: 'sales@acme.test' },
      subject: 'Your invoice',
      content: [
        { type: 'text/plain', value: 'Plain' },
        { type: 'text/html', value: '<p>Html</p>' },
      ],
      categories: ['invoice'],
      custom_args: { briefly_message_id: '5f0c1a52-1111-4222-8333-444455556666' },
    });
  });

  it('when the email has a Message-ID, headers and attachments, then the v3 body carries them as SendGrid expects', async () => {
    let sent: Record<string, unknown> = {};
    nock(BASE)
      .post('/v3/mail/send')
      .reply((_uri, body) => {
        sent = body as Record<string, unknown>;
        return [202, '', { 'X-Message-Id': 'xmid-9' }];
      });
    await provider.send(
      email({
        messageIdHeader: '<0d2c@mail.acme.test>',
        headers: { 'List-Unsubscribe': '<https://acme.test/u/1>', 'In-Reply-To': '<prev@client.test>' },
        attachments: [
          { filename: 'invite.ics', contentType: 'text/calendar; method=REQUEST', content: 'QkVHSU4=' },
          {
            filename: 'chart.png',
            contentType: 'image/png',
            content: 'iVBO',
            disposition: 'inline',
            contentId: 'chart',
          },
        ],
      }),
    );
    expect(sent.headers).toEqual({
      'List-Unsubscribe': '<https://acme.test/u/1>',
      'In-Reply-To': '<prev@client.test>',
      'Message-ID': '<0d2c@mail.acme.test>',
    });
    expect(sent.attachments).toEqual([
      {
        filename: 'invite.ics',
        type: 'text/calendar; method=REQUEST',
        content: 'QkVHSU4=',
        disposition: 'attachment',
      },
      {
        filename: 'chart.png',
        type: 'image/png',
        content: 'iVBO',
        disposition: 'inline',
        content_id: 'chart',
      },
    ]);
    expect(sent.custom_args).toEqual({ briefly_message_id: '5f0c1a52-1111-4222-8333-444455556666' });
  });

  it('when there are more than 10 tags, then SendGrid gets the first 10 as categories', async () => {
    let sent: { categories?: string[] } = {};
    nock(BASE)
      .post('/v3/mail/send')
      .reply((_uri, body) => {
        sent = body as typeof sent;
        return [202, '', { 'X-Message-Id': 'xmid-124' }];
      });
    await provider.send(email({ tags: Array.from({ length: 12 }, (_, i) => `t${i}`) }));
    expect(sent.categories).toHaveLength(10);
  });

  it('when a proxy or captive portal answers 200 with an HTML page, then it is a transient failure, not a send', async () => {
    nock(BASE)
      .post('/v3/mail/send')
      .reply(200, '<html><body>Sign in to the Wi-Fi</body></html>', { 'content-type': 'text/html' });
    const error = await failure(provider.send(email()));
    expect(error.kind).toBe('transient');
    expect(error.unknownOutcome).toBe(false);
    expect(error.details).toMatchObject({ status: 200, code: 'unexpected_answer' });
    expect(error.message).toContain('200 (text/html)');
  });

  it('when SendGrid answers a redirect, then it is a transient failure naming where it pointed', async () => {
    nock(BASE).post('/v3/mail/send').reply(302, '', { location: 'https://portal.test/login' });
    const error = await failure(provider.send(email()));
    expect(error.kind).toBe('transient');
    expect(error.message).toContain('302');
    expect(error.message).toContain('https://portal.test/login');
  });

  it('when SendGrid answers 202 without an X-Message-Id, or with one that is not an id, then it is a transient failure', async () => {
    nock(BASE).post('/v3/mail/send').reply(202, '<<<not json>>>');
    expect((await failure(provider.send(email()))).details.code).toBe('unexpected_answer');
    nock(BASE).post('/v3/mail/send').reply(202, '', { 'X-Message-Id': '<html> portal' });
    expect((await failure(provider.send(email()))).kind).toBe('transient');
  });

  it('when SendGrid answers 201 with an X-Message-Id, then it is still not the documented 202: transient', async () => {
    nock(BASE).post('/v3/mail/send').reply(201, '', { 'X-Message-Id': 'xmid-201' });
    expect((await failure(provider.send(email()))).kind).toBe('transient');
  });

  it('when SendGrid answers 400, then the failure is permanent and names SendGrid’s reason and field', async () => {
    nock(BASE)
      .post('/v3/mail/send')
      .reply(400, {
        errors: [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email' }],
      });
    const error = await failure(provider.send(email()));
    expect(error.kind).toBe('permanent');
    expect(error.message).toContain('Does not contain a valid address. (personalizations.0.to.0.email)');
    expect(error.details.status).toBe(400);
  });

  it('when SendGrid answers 401, then the failure is permanent and the API key is not in the message', async () => {
    nock(BASE)
      .post('/v3/mail/send')
      .reply(401, { errors: [{ message: 'The provided authorization grant is invalid' }] });
    const error = await failure(provider.send(email()));
    expect(error.kind).toBe('permanent');
    expect(error.message).not.toContain(KEY);
  });

  it('when SendGrid answers 429, then the failure is transient with the wait from X-RateLimit-Reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 30;
    nock(BASE)
      .post('/v3/mail/send')
      .reply(
        429,
        { errors: [{ field: null, message: 'too many requests' }] },
        { 'X-RateLimit-Reset': String(reset) },
      );
    const error = await failure(provider.send(email()));
    expect(error.kind).toBe('transient');
    expect(error.details.retryAfterMs).toBeGreaterThan(20_000);
  });

  it('when SendGrid answers 500 with an HTML body, then the failure is transient', async () => {
    nock(BASE).post('/v3/mail/send').reply(500, '<html><body>Internal Server Error</body></html>');
    const error = await failure(provider.send(email()));
    expect(error.kind).toBe('transient');
    expect(error.message).toContain('500');
  });

  it('when SendGrid does not answer within the timeout, then the failure is transient', async () => {
    nock(BASE).post('/v3/mail/send').delay(1_000).reply(202, '');
    const error = await failure(provider.send(email()));
    expect(error.kind).toBe('transient');
  });

  it('when the connection is reset, then the failure is transient', async () => {
    nock(BASE).post('/v3/mail/send').replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    expect((await failure(provider.send(email()))).kind).toBe('transient');
  });

  it('when probed, then it sends in sandbox mode: 200 without a body passes, 429 and an HTML 200 fail, 401 is permanent', async () => {
    let probe: { mail_settings?: unknown; from?: unknown } = {};
    nock(BASE)
      .post('/v3/mail/send')
      .reply((_uri, body) => {
        probe = body as typeof probe;
        return [200, ''];
      });
    await expect(provider.probe()).resolves.toBeUndefined();
    expect(probe.mail_settings).toEqual({ sandbox_mode: { enable: true } });
    nock(BASE)
      .post('/v3/mail/send')
      .reply(429, { errors: [{ field: null, message: 'too many requests' }] });
    expect((await failure(provider.probe())).kind).toBe('transient');
    nock(BASE).post('/v3/mail/send').reply(200, '<html>portal</html>', { 'content-type': 'text/html' });
    expect((await failure(provider.probe())).kind).toBe('transient');
    nock(BASE)
      .post('/v3/mail/send')
      .reply(401, { errors: [{ message: 'unauthorized' }] });
    expect((await failure(provider.probe())).kind).toBe('permanent');
  });
});

describe('SendGridEmailProvider against a server on loopback', () => {
  let fake: Awaited<ReturnType<typeof startFakeSendgrid>>;
  beforeAll(async () => {
    nock.enableNetConnect(/127\.0\.0\.1/);
    fake = await startFakeSendgrid(() => 'hang');
  });
  afterAll(async () => {
    await fake.close();
  });

  it('when SendGrid received the whole request but never answers, then the outcome is unknown', async () => {
    const local = new SendGridEmailProvider({ apiKey: KEY, baseUrl: fake.url, timeoutMs: 200 });
    try {
      const error = await failure(local.send(email()));
      expect(error.kind).toBe('transient');
      expect(error.unknownOutcome).toBe(true);
      expect(error.message).toContain('outcome unknown');
      expect(fake.sendsOf('5f0c1a52-1111-4222-8333-444455556666')).toHaveLength(1);
    } finally {
      await local.close();
    }
  });

  it('when nothing listens, then the failure is transient and the outcome known: nothing was sent', async () => {
    const closed = new SendGridEmailProvider({
      apiKey: KEY,
      baseUrl: 'http://127.0.0.1:9',
      timeoutMs: 1_000,
    });
    try {
      const error = await failure(closed.send(email()));
      expect(error.kind).toBe('transient');
      expect(error.unknownOutcome).toBe(false);
    } finally {
      await closed.close();
    }
  });
});
