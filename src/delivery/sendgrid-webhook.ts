import { EventWebhook } from '@sendgrid/eventwebhook';
import { z } from 'zod';
import { findBadText } from '../shared/text.ts';

const webhook = new EventWebhook();
type EcdsaPublicKey = ReturnType<EventWebhook['convertPublicKeyToECDSA']>;
const parsedKeys = new Map<string, EcdsaPublicKey>();

/** SendGrid's own parser accepts the key as shown in Mail Settings (base64 DER) or as PEM. */
function publicKeyOf(value: string): EcdsaPublicKey {
  let key = parsedKeys.get(value);
  if (!key) {
    key = webhook.convertPublicKeyToECDSA(value.trim());
    parsedKeys.set(value, key);
  }
  return key;
}

/**
 * SendGrid's signed Event Webhook, checked with SendGrid's own `@sendgrid/eventwebhook`
 * (ECDSA P-256 / SHA-256 over `timestamp + raw body`). SendGrid documents no replay window and the
 * library checks none, so the timestamp must also be within 5 minutes of now, either way.
 */
export function verifySendgridSignature(opts: {
  publicKey: string;
  signature: string | undefined;
  timestamp: string | undefined;
  rawBody: Buffer;
  now: Date;
  maxAgeSeconds?: number;
}): { ok: true } | { ok: false; reason: string } {
  if (!opts.signature) return { ok: false, reason: 'missing signature' };
  if (!opts.timestamp) return { ok: false, reason: 'missing timestamp' };
  if (!/^\d{1,12}$/.test(opts.timestamp)) return { ok: false, reason: 'timestamp is not a number' };
  const age = Math.abs(opts.now.getTime() / 1000 - Number(opts.timestamp));
  if (age > (opts.maxAgeSeconds ?? 300)) return { ok: false, reason: 'timestamp too old or in the future' };
  let key: EcdsaPublicKey;
  try {
    key = publicKeyOf(opts.publicKey);
  } catch {
    return { ok: false, reason: 'bad public key' };
  }
  // The library hashes the body as a UTF-8 string; bytes that are not UTF-8 cannot be what SendGrid signed.
  const body = opts.rawBody.toString('utf8');
  if (!Buffer.from(body, 'utf8').equals(opts.rawBody)) return { ok: false, reason: 'bad signature' };
  try {
    return webhook.verifySignature(key, body, opts.signature, opts.timestamp)
      ? { ok: true }
      : { ok: false, reason: 'bad signature' };
  } catch {
    return { ok: false, reason: 'bad signature' };
  }
}

export type DeliveryEventType =
  | 'processed'
  | 'deferred'
  | 'delivered'
  | 'opened'
  | 'clicked'
  | 'bounced'
  | 'dropped'
  | 'spam_report'
  | 'unsubscribed';

const EVENT_TYPES: Record<string, DeliveryEventType> = {
  processed: 'processed',
  deferred: 'deferred',
  delivered: 'delivered',
  open: 'opened',
  click: 'clicked',
  bounce: 'bounced',
  dropped: 'dropped',
  spamreport: 'spam_report',
  unsubscribe: 'unsubscribed',
  group_unsubscribe: 'unsubscribed',
};

export interface SendgridEvent {
  eventId: string;
  type: DeliveryEventType;
  at: Date;
  email: string;
  /** Our id, from the `briefly_message_id` custom arg (SendGrid flattens custom args to top level). */
  messageId?: string;
  /** The X-Message-Id part of sg_message_id (`<X-Message-Id>.filterdrecv-….0`). */
  providerMessageId?: string;
  /** The Message-ID SendGrid sent (`smtp-id`); differs from ours only if SendGrid replaced it. */
  messageIdHeader?: string;
  detail: Record<string, unknown>;
  /** Hard bounce, spam report or unsubscribe: stop sending to this address. */
  suppress: boolean;
}

const rawEvent = z.object({
  event: z.string(),
  sg_event_id: z.string().min(1),
  timestamp: z.number().min(0).max(100_000_000_000),
  email: z.string().min(1),
  sg_message_id: z.string().optional(),
  briefly_message_id: z.string().optional(),
  'smtp-id': z.string().max(998).optional(),
  reason: z.string().optional(),
  response: z.string().optional(),
  status: z.string().optional(),
  type: z.string().optional(),
  bounce_classification: z.string().optional(),
  url: z.string().optional(),
  attempt: z.union([z.string(), z.number()]).optional(),
  category: z.union([z.string(), z.array(z.string())]).optional(),
});

const DETAIL_KEYS = [
  'reason',
  'response',
  'status',
  'type',
  'bounce_classification',
  'url',
  'attempt',
] as const;

/** "<a@b>" as SendGrid reports it; anything that does not look like a Message-ID is ignored. */
function messageIdHeader(value: string | undefined): string | undefined {
  const bare = value?.trim().replace(/^<|>$/g, '');
  return bare && /^[^\s<>@]+@[^\s<>@]+$/.test(bare) ? `<${bare}>` : undefined;
}

/** Parses a webhook batch leniently: bad elements are reported, never thrown, so one cannot sink the batch. */
export function parseSendgridEvents(body: unknown): {
  events: SendgridEvent[];
  rejected: { index: number; reason: string }[];
} {
  if (!Array.isArray(body)) throw new Error('body must be a JSON array of events');
  const events: SendgridEvent[] = [];
  const rejected: { index: number; reason: string }[] = [];
  body.forEach((element, index) => {
    // Text PostgreSQL cannot store (NUL, unpaired surrogates) would fail the whole batch's
    // transaction: such an event is reported and skipped like any other malformed one.
    const bad = findBadText(element);
    if (bad) {
      rejected.push({ index, reason: `${bad.field === '(body)' ? 'event' : bad.field}: ${bad.message}` });
      return;
    }
    const parsed = rawEvent.safeParse(element);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      rejected.push({ index, reason: `${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}` });
      return;
    }
    const e = parsed.data;
    const type = EVENT_TYPES[e.event];
    if (!type) {
      rejected.push({ index, reason: `unknown event "${e.event.slice(0, 50)}"` });
      return;
    }
    const detail: Record<string, unknown> = {};
    for (const key of DETAIL_KEYS) if (e[key] !== undefined) detail[key] = e[key];
    const hardBounce = type === 'bounced' && (e.type === undefined || e.type === 'bounce');
    events.push({
      eventId: e.sg_event_id,
      type,
      at: new Date(e.timestamp * 1000),
      email: e.email,
      messageId: e.briefly_message_id,
      providerMessageId: e.sg_message_id?.split('.')[0] || undefined,
      messageIdHeader: messageIdHeader(e['smtp-id']),
      detail,
      suppress: hardBounce || type === 'spam_report' || type === 'unsubscribed',
    });
  });
  return { events, rejected };
}
