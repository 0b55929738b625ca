import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isAppError } from '../../src/errors.ts';
import { apiAuth, startTestService, type TestService } from '../helpers/service.ts';
import { startSmtpServer } from '../helpers/smtp.ts';

const SENDGRID = 'https://sendgrid.test';
const MESSAGE_ID = /^<[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@mail\.acme\.test>$/;

const ICS = Buffer.from(
  'BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:demo-1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3, 250, 251, 252]);

let svc: TestService;
let smtpSvc: TestService;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let auth: { authorization: string };
let smtpAuth: { authorization: string };

interface SentBody {
  headers?: Record<string, string>;
  custom_args: Record<string, string>;
  attachments?: Record<string, string>[];
}

function fakeSendgrid() {
  const received: SentBody[] = [];
  nock(SENDGRID)
    .post('/v3/mail/send')
    .reply((_uri, body) => {
      received.push(body as SentBody);
      return [202, '', { 'X-Message-Id': 'sg-xmid' }];
    });
  return received;
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  const common = {
    DELIVERY_BACKOFF_MS: '50',
    DELIVERY_MAX_ATTEMPTS: '2',
    API_BODY_LIMIT_BYTES: '4096',
    MESSAGE_ATTACHMENTS_MAX_BYTES: '1000',
    MESSAGE_ID_DOMAIN: 'mail.acme.test',
    EMAIL_FROM: 'Briefly <briefly@acme.test>',
  };
  smtp = await startSmtpServer();
  [svc, smtpSvc] = await Promise.all([
    startTestService({
      ...common,
      EMAIL_PROVIDERS: 'sendgrid',
      SENDGRID_API_KEY: 'SG.test-key-0123456789',
      SENDGRID_BASE_URL: SENDGRID,
    }),
    startTestService({ ...common, EMAIL_PROVIDERS: 'smtp', SMTP_URL: smtp.url }),
  ]);
  [auth, smtpAuth] = await Promise.all([apiAuth(svc), apiAuth(smtpSvc)]);
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await Promise.all([svc?.close(), smtpSvc?.close()]);
  await smtp?.close();
  nock.enableNetConnect();
});

const post = (target: TestService, headers: { authorization: string }, payload: unknown) =>
  target.web.inject({ method: 'POST', url: '/v1/messages', headers, payload: payload as object });
const getMessage = async (target: TestService, headers: { authorization: string }, id: string) =>
  (await target.web.inject({ method: 'GET', url: `/v1/messages/${id}`, headers })).json();
const count = async (target: TestService) =>
  Number((await target.db.query('SELECT count(*) FROM messages')).rows[0].count);

const full = {
  to: ['ana@client.test'],
  subject: 'Your meeting',
  text: 'See the invitation.',
  html: '<p>See the invitation.</p><img src="cid:chart@briefly">',
  headers: {
    'List-Unsubscribe': '<https://briefly.example/u/tok123>, <mailto:unsub@acme.test>',
    'list-unsubscribe-post': 'List-Unsubscribe=One-Click',
    'In-Reply-To': '<original-1@client.test>',
    References: '<thread-0@client.test> <original-1@client.test>',
    'X-Campaign': 'spring',
  },
  attachments: [
    {
      filename: 'invite.ics',
      content_type: 'text/calendar; method=REQUEST',
      content: ICS.toString('base64'),
    },
    {
      filename: 'chart.png',
      content_type: 'image/png',
      content: PNG.toString('base64'),
      disposition: 'inline',
      content_id: 'chart@briefly',
    },
  ],
};

describe('headers, attachments and Message-ID through SendGrid', () => {
  it('when a message has headers and attachments, then SendGrid gets them with our Message-ID and GET shows them', async () => {
    const received = fakeSendgrid();
    const res = await post(svc, auth, full);
    expect(res.statusCode).toBe(202);
    const { id } = res.json();
    await vi.waitFor(async () => expect((await getMessage(svc, auth, id)).status).toBe('sent'), {
      timeout: 10_000,
    });
    const message = await getMessage(svc, auth, id);
    expect(message.message_id_header).toMatch(MESSAGE_ID);
    expect(message.headers).toEqual({
      'List-Unsubscribe': '<https://briefly.example/u/tok123>, <mailto:unsub@acme.test>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'In-Reply-To': '<original-1@client.test>',
      References: '<thread-0@client.test> <original-1@client.test>',
      'X-Campaign': 'spring',
    });
    expect(message.attachments).toEqual([
      {
        filename: 'invite.ics',
        content_type: 'text/calendar; method=REQUEST',
        disposition: 'attachment',
        content_id: null,
        size: ICS.length,
      },
      {
        filename: 'chart.png',
        content_type: 'image/png',
        disposition: 'inline',
        content_id: 'chart@briefly',
        size: PNG.length,
      },
    ]);

    expect(received).toHaveLength(1);
    const body = received[0] as SentBody;
    expect(body.headers).toEqual({ ...message.headers, 'Message-ID': message.message_id_header });
    expect(body.custom_args).toEqual({ briefly_message_id: id });
    expect(body.attachments).toEqual([
      {
        filename: 'invite.ics',
        type: 'text/calendar; method=REQUEST',
        content: ICS.toString('base64'),
        disposition: 'attachment',
      },
      {
        filename: 'chart.png',
        type: 'image/png',
        content: PNG.toString('base64'),
        disposition: 'inline',
        content_id: 'chart@briefly',
      },
    ]);
    // The job carries only the id: no content, no headers in Redis (a finished send job is removed,
    // so this looks at one that waits for its send_at).
    const later = await post(svc, auth, { ...full, send_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect(later.statusCode).toBe(202);
    const job = await svc.queues.get('email-delivery').getJob(`msg-${later.json().id}-0`);
    expect(job?.data).toEqual({ messageId: later.json().id });
    expect(await svc.queues.get('email-delivery').getJob(`msg-${id}-0`)).toBeUndefined();
  });

  it('when a header is not allowed or a value has CR/LF, then 400 names it and nothing is stored', async () => {
    const before = await count(svc);
    const cases: [Record<string, string>, string][] = [
      [{ Bcc: 'spy@evil.test' }, 'headers.Bcc'],
      [{ 'Message-ID': '<mine@x>' }, 'headers.Message-ID'],
      [{ 'X-Briefly-Message-Id': 'forged' }, 'headers.X-Briefly-Message-Id'],
      [{ 'X-Note': 'one\r\nBcc: spy@evil.test' }, 'headers.X-Note'],
      [{ 'In-Reply-To': '<a@b>\n' }, 'headers.In-Reply-To'],
      [{ 'X-A': 'x', 'x-a': 'y' }, 'headers.x-a'],
    ];
    for (const [headers, field] of cases) {
      const res = await post(svc, auth, { ...full, headers, attachments: undefined });
      expect(res.statusCode, JSON.stringify(headers)).toBe(400);
      expect(res.json().errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect(await count(svc)).toBe(before);
  });

  it('when an attachment is malformed, then 400 names the field', async () => {
    const res = await post(svc, auth, {
      ...full,
      headers: undefined,
      attachments: [
        { filename: '../etc/passwd', content_type: 'text/plain', content: 'aGk=' },
        { filename: 'a.txt', content_type: 'not a type', content: 'aGk=' },
        { filename: 'b.txt', content_type: 'text/plain', content: 'not base64!' },
        { filename: 'c.png', content_type: 'image/png', content: 'aGk=', disposition: 'inline' },
      ],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining([
        'attachments.0.filename',
        'attachments.1.content_type',
        'attachments.2.content',
        'attachments.3.content_id',
      ]),
    );
  });

  it('when the attachments total more than MESSAGE_ATTACHMENTS_MAX_BYTES, then 413 and nothing is stored; exactly the limit is accepted', async () => {
    const before = await count(svc);
    const over = await post(svc, auth, {
      to: ['ana@client.test'],
      subject: 'Big',
      text: 'x',
      attachments: [
        {
          filename: 'a.bin',
          content_type: 'application/octet-stream',
          content: Buffer.alloc(600, 1).toString('base64'),
        },
        {
          filename: 'b.bin',
          content_type: 'application/octet-stream',
          content: Buffer.alloc(401, 2).toString('base64'),
        },
      ],
    });
    expect(over.statusCode).toBe(413);
    expect(over.json().errors).toEqual([{ field: 'attachments', message: 'must total at most 1000 bytes' }]);
    expect(await count(svc)).toBe(before);

    // The body (about 4.5 kB) is over API_BODY_LIMIT_BYTES (4096): the route allows room for the base64.
    fakeSendgrid();
    const exact = await post(svc, auth, {
      to: ['ana@client.test'],
      subject: 'Just fits',
      text: 'x'.repeat(3_000),
      attachments: [
        {
          filename: 'a.bin',
          content_type: 'application/octet-stream',
          content: Buffer.alloc(1000, 1).toString('base64'),
        },
      ],
    });
    expect(exact.statusCode).toBe(202);
    const tooLong = await post(svc, auth, {
      to: ['ana@client.test'],
      subject: 'Too long',
      text: 'x'.repeat(6_000),
    });
    expect(tooLong.statusCode).toBe(413);
    await vi.waitFor(async () => expect((await getMessage(svc, auth, exact.json().id)).status).toBe('sent'), {
      timeout: 10_000,
    });
  });

  it('when an internal caller sends with headers and attachments, then the same rules apply and the message is found by its Message-ID', async () => {
    fakeSendgrid();
    const sent = await svc.delivery.service.sendInternal({
      kind: 'appointment',
      to: [{ email: 'ana@client.test' }],
      subject: 'Invitation',
      text: 'See attached',
      headers: { 'x-appointment': 'a1' },
      attachments: [{ filename: 'invite.ics', contentType: 'text/calendar; method=REQUEST', content: ICS }],
    });
    expect(sent.messageIdHeader).toMatch(MESSAGE_ID);
    const found = await svc.delivery.service.findByMessageIdHeader(sent.messageIdHeader as string);
    expect(found?.id).toBe(sent.id);
    const bare = (sent.messageIdHeader as string).slice(1, -1);
    expect((await svc.delivery.service.findByMessageIdHeader(bare))?.id).toBe(sent.id);
    expect(found?.headers).toEqual({ 'x-appointment': 'a1' });
    await vi.waitFor(async () => expect((await getMessage(svc, auth, sent.id)).status).toBe('sent'), {
      timeout: 10_000,
    });

    const refused = await svc.delivery.service
      .sendInternal({
        kind: 'sequence',
        to: [{ email: 'ana@client.test' }],
        subject: 'x',
        text: 'x',
        headers: { 'In-Reply-To': '<a@b>\r\nBcc: x@y' },
      })
      .catch((error: unknown) => error);
    expect(isAppError(refused) && refused.code).toBe('validation_failed');
    const tooBig = await svc.delivery.service
      .sendInternal({
        kind: 'stats',
        to: [{ email: 'ana@client.test' }],
        subject: 'x',
        text: 'x',
        attachments: [{ filename: 'c.png', contentType: 'image/png', content: Buffer.alloc(1001) }],
      })
      .catch((error: unknown) => error);
    expect(isAppError(tooBig) && tooBig.code).toBe('payload_too_large');
  });

  it('when SendGrid reports a different smtp-id, then the Message-ID it assigned is recorded', async () => {
    const sent = await svc.delivery.service.sendInternal({
      kind: 'test',
      to: [{ email: 'ana@client.test' }],
      subject: 'x',
      text: 'x',
      sendAt: new Date(Date.now() + 3_600_000),
    });
    await svc.delivery.service.ingestProviderEvents('sendgrid', [
      {
        eventId: `ev-${sent.id}`,
        type: 'processed',
        at: new Date(),
        email: 'ana@client.test',
        messageId: sent.id,
        messageIdHeader: '<replaced.123@ismtpd-1>',
        detail: {},
        suppress: false,
      },
    ]);
    expect((await getMessage(svc, auth, sent.id)).message_id_header).toBe('<replaced.123@ismtpd-1>');
    expect((await svc.delivery.service.findByMessageIdHeader('<replaced.123@ismtpd-1>'))?.id).toBe(sent.id);
  });
});

describe('headers, attachments and Message-ID through SMTP', () => {
  it('when sent through SMTP, then the MIME message has our Message-ID, the headers and the attachments', async () => {
    const res = await post(smtpSvc, smtpAuth, full);
    expect(res.statusCode).toBe(202);
    const { id } = res.json();
    await vi.waitFor(async () => expect((await getMessage(smtpSvc, smtpAuth, id)).status).toBe('sent'), {
      timeout: 10_000,
    });
    const message = await getMessage(smtpSvc, smtpAuth, id);
    const raw = smtp.received.find((m) => m.raw.includes(id))?.raw ?? '';
    const unfolded = raw.replace(/\r?\n[ \t]+/g, ' ');
    expect(unfolded).toMatch(new RegExp(`^Message-ID: ${escapeRegExp(message.message_id_header)}\\r?$`, 'm'));
    expect(message.provider_message_id).toBe(message.message_id_header);
    expect(unfolded).toMatch(
      /^List-Unsubscribe: <https:\/\/briefly\.example\/u\/tok123>, <mailto:unsub@acme\.test>\r?$/m,
    );
    expect(unfolded).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    expect(unfolded).toMatch(/^In-Reply-To: <original-1@client\.test>\r?$/m);
    expect(unfolded).toMatch(/^References: <thread-0@client\.test> <original-1@client\.test>\r?$/m);
    expect(unfolded).toMatch(/^X-Campaign: spring\r?$/m);
    expect(unfolded).toMatch(/^Content-Type: text\/calendar; method=REQUEST; name=invite\.ics\r?$/m);
    expect(unfolded).toMatch(/^Content-Disposition: attachment; filename=invite\.ics\r?$/m);
    expect(unfolded).toMatch(/^Content-ID: <chart@briefly>\r?$/m);
    expect(unfolded).toMatch(/^Content-Disposition: inline; filename=chart\.png\r?$/m);
    expect(base64Parts(raw)).toEqual(
      expect.arrayContaining([ICS.toString('base64'), PNG.toString('base64')]),
    );
  });
});

const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The base64 bodies of the MIME parts, each joined back into one line. */
function base64Parts(raw: string): string[] {
  const parts: string[] = [];
  for (const part of raw.split(/\r?\n--/)) {
    if (!/Content-Transfer-Encoding: base64/i.test(part)) continue;
    const body = part.split(/\r?\n\r?\n/)[1] ?? '';
    parts.push(body.replace(/\s+/g, ''));
  }
  return parts;
}
