import { describe, expect, it } from 'vitest';
import { parseSendgridEvents, verifySendgridSignature } from '../../src/delivery/sendgrid-webhook.ts';
import { generateSendgridKeyPair, signSendgrid } from '../helpers/sendgrid.ts';

const { publicKeyBase64, privateKey } = generateSendgridKeyPair();
const now = new Date('2026-11-22T12:00:00Z');
const ts = String(Math.floor(now.getTime() / 1000));
const body = '[{"event":"delivered"}]\r\n';

const check = (overrides: Partial<Parameters<typeof verifySendgridSignature>[0]> = {}) =>
  verifySendgridSignature({
    publicKey: publicKeyBase64,
    signature: signSendgrid(privateKey, ts, body),
    timestamp: ts,
    rawBody: Buffer.from(body),
    now,
    ...overrides,
  });

describe('verifySendgridSignature', () => {
  it('when the signature covers timestamp and raw body, then it verifies', () => {
    expect(check()).toEqual({ ok: true });
  });

  it('when one byte of the body or the timestamp changes, then it is a bad signature', () => {
    expect(check({ rawBody: Buffer.from(body.replace('delivered', 'Delivered')) })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    const other = String(Number(ts) - 1);
    expect(check({ timestamp: other })).toEqual({ ok: false, reason: 'bad signature' });
  });

  it('when the trailing CRLF is dropped, then it no longer verifies (the exact bytes matter)', () => {
    expect(check({ rawBody: Buffer.from(body.trimEnd()) })).toEqual({ ok: false, reason: 'bad signature' });
  });

  it('when the timestamp is more than 5 minutes off either way, then it is refused', () => {
    const sign = (t: string) => signSendgrid(privateKey, t, body);
    const old = String(Number(ts) - 301);
    const future = String(Number(ts) + 301);
    expect(check({ timestamp: old, signature: sign(old) }).ok).toBe(false);
    expect(check({ timestamp: future, signature: sign(future) })).toEqual({
      ok: false,
      reason: 'timestamp too old or in the future',
    });
  });

  it('when headers are missing or garbage, then it says which and never throws', () => {
    expect(check({ signature: undefined })).toEqual({ ok: false, reason: 'missing signature' });
    expect(check({ timestamp: undefined })).toEqual({ ok: false, reason: 'missing timestamp' });
    expect(check({ timestamp: 'yesterday' })).toEqual({ ok: false, reason: 'timestamp is not a number' });
    expect(check({ signature: '%%%not-base64%%%' })).toEqual({ ok: false, reason: 'bad signature' });
    expect(check({ signature: Buffer.alloc(70, 1).toString('base64') })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    expect(check({ publicKey: 'not a key' })).toEqual({ ok: false, reason: 'bad public key' });
  });

  it('when the public key is given as PEM, then it is accepted too', () => {
    const pem = `-----BEGIN PUBLIC KEY-----\n${publicKeyBase64.match(/.{1,64}/g)?.join('\n')}\n-----END PUBLIC KEY-----`;
    expect(check({ publicKey: pem })).toEqual({ ok: true });
  });
});

describe('parseSendgridEvents', () => {
  const base = {
    email: 'ana@client.test',
    timestamp: 1_795_000_000,
    sg_message_id: 'xmid.filterdrecv-1.0',
    briefly_message_id: 'm-1',
  };
  const batch = [
    { ...base, event: 'processed', sg_event_id: 'e1', category: 'invoice' },
    { ...base, event: 'deferred', sg_event_id: 'e2', attempt: '2', response: '450 busy' },
    { ...base, event: 'delivered', sg_event_id: 'e3', response: '250 OK', category: ['a', 'b'] },
    { ...base, event: 'open', sg_event_id: 'e4' },
    { ...base, event: 'click', sg_event_id: 'e5', url: 'https://acme.test' },
    { ...base, event: 'bounce', sg_event_id: 'e6', type: 'bounce', reason: '550 no user', status: '5.1.1' },
    { ...base, event: 'bounce', sg_event_id: 'e7', type: 'blocked', reason: 'blocked by policy' },
    { ...base, event: 'dropped', sg_event_id: 'e8', reason: 'Bounced Address' },
    { ...base, event: 'spamreport', sg_event_id: 'e9' },
    { ...base, event: 'unsubscribe', sg_event_id: 'e10' },
    { ...base, event: 'group_unsubscribe', sg_event_id: 'e11' },
  ];

  it('when a realistic batch arrives, then each event maps to our type, ids and suppression flag', () => {
    const { events, rejected } = parseSendgridEvents(batch);
    expect(rejected).toEqual([]);
    expect(events.map((e) => [e.type, e.suppress])).toEqual([
      ['processed', false],
      ['deferred', false],
      ['delivered', false],
      ['opened', false],
      ['clicked', false],
      ['bounced', true],
      ['bounced', false],
      ['dropped', false],
      ['spam_report', true],
      ['unsubscribed', true],
      ['unsubscribed', true],
    ]);
    expect(events[0]).toMatchObject({
      eventId: 'e1',
      messageId: 'm-1',
      providerMessageId: 'xmid',
      at: new Date(1_795_000_000_000),
    });
    expect(events[5]?.detail).toEqual({ reason: '550 no user', status: '5.1.1', type: 'bounce' });
    expect(events[4]?.detail).toEqual({ url: 'https://acme.test' });
  });

  it('when an element is malformed or unknown, then it is reported by index and the rest parse', () => {
    const { events, rejected } = parseSendgridEvents([
      { ...base, event: 'delivered' },
      { ...base, event: 'group_resubscribe', sg_event_id: 'e12' },
      'garbage',
      { ...base, event: 'open', sg_event_id: 'e13' },
    ]);
    expect(events.map((e) => e.eventId)).toEqual(['e13']);
    expect(rejected.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(rejected[1]?.reason).toBe('unknown event "group_resubscribe"');
  });

  it('when an event carries smtp-id, then it becomes the Message-ID (bracketed); garbage is ignored', () => {
    const { events } = parseSendgridEvents([
      { ...base, event: 'processed', sg_event_id: 'e20', 'smtp-id': '<5a3f@mail.acme.test>' },
      { ...base, event: 'processed', sg_event_id: 'e21', 'smtp-id': 'bare.1@ismtpd-2' },
      { ...base, event: 'processed', sg_event_id: 'e22', 'smtp-id': 'no at sign' },
      { ...base, event: 'delivered', sg_event_id: 'e23' },
    ]);
    expect(events.map((e) => e.messageIdHeader)).toEqual([
      '<5a3f@mail.acme.test>',
      '<bare.1@ismtpd-2>',
      undefined,
      undefined,
    ]);
  });

  it('when the body is not an array, then it throws saying so', () => {
    expect(() => parseSendgridEvents({ event: 'delivered' })).toThrow(/JSON array/);
  });
});
