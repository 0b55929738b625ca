import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The unsubscribe link's token: contact and sequence, HMAC-SHA256 signed. It carries no expiry:
 * an unsubscribe link must keep working as long as the mail exists.
 */
export function signUnsubscribe(secret: string, contactId: string, sequenceId: string): string {
  const payload = Buffer.from(`${contactId}.${sequenceId}`).toString('base64url');
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
  const [contactId, sequenceId] = Buffer.from(payload, 'base64url').toString('utf8').split('.');
  const uuid = /^[0-9a-f-]{36}$/i;
  if (!contactId || !sequenceId || !uuid.test(contactId) || !uuid.test(sequenceId)) return undefined;
  return { contactId, sequenceId };
}

function mac(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(`unsubscribe:${payload}`).digest('base64url');
}
