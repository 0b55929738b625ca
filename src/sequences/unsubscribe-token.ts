import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The unsubscribe link's token: contact and sequence ids (32 bytes) and an HMAC-SHA256 truncated to
 * 128 bits, base64url: 66 characters, under Fastify's 100-character path parameter limit. It carries
 * no expiry: an unsubscribe link must keep working as long as the mail exists.
 */
export function signUnsubscribe(secret: string, contactId: string, sequenceId: string): string {
  const payload = Buffer.concat([uuidBytes(contactId), uuidBytes(sequenceId)]).toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

export function verifyUnsubscribe(
  secret: string,
  token: string,
): { contactId: string; sequenceId: string } | undefined {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) return undefined;
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  const bytes = Buffer.from(payload, 'base64url');
  if (bytes.length !== 32) return undefined;
  return { contactId: uuidText(bytes.subarray(0, 16)), sequenceId: uuidText(bytes.subarray(16)) };
}

function mac(secret: string, payload: string): string {
  return createHmac('sha256', secret)
    .update(`unsubscribe:${payload}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

const uuidBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');
const uuidText = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
