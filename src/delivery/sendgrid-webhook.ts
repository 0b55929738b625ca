import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { z } from 'zod';

/**
 * SendGrid's signed Event Webhook (VENDOR-FACTS §4): ECDSA P-256 / SHA-256 over
 * `timestamp + raw body`, signature base64 DER in X-Twilio-Email-Event-Webhook-Signature, public
 * key base64 DER SPKI from Mail Settings. SendGrid documents no replay window; we allow 5 minutes.
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
  let key: KeyObject;
  try {
    key = parsePublicKey(opts.publicKey);
  } catch {
    return { ok: false, reason: 'bad public key' };
  }
  try {
    const payload = Buffer.concat([Buffer.from(opts.timestamp, 'utf8'), opts.rawBody]);
    const valid = verify('sha256', payload, key, Buffer.from(opts.signature, 'base64'));
    return valid ? { ok: true } : { ok: false, reason: 'bad signature' };
  } catch {
    return { ok: false, reason: 'bad signature' };
  }
}

function parsePublicKey(value: string): KeyObject {
  const trimmed = value.trim();
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  return createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
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
