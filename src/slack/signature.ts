import { createHmac } from 'node:crypto';
import { verifySlackRequest } from '@slack/bolt';

export const SLACK_MAX_SKEW_SECONDS = 60 * 5;

/**
 * `v0=` + hex HMAC-SHA256 over `v0:{ts}:{raw body}` (docs.slack.dev/authentication/verifying-requests-from-slack):
 * how Slack signs, used to sign requests in tests and to check Slack's documented example.
 */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string | Buffer): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks a request with Bolt's `verifySlackRequest` over the raw body. Bolt only refuses
 * timestamps older than 5 minutes; one more than 5 minutes in the future is refused here too, so
 * a captured request cannot be replayed later.
 */
export function verifySlackSignature(options: {
  signingSecret: string;
  signature: string | undefined;
  timestamp: string | undefined;
  rawBody: Buffer;
  nowSeconds: number;
}): SignatureVerdict {
  const { signature, timestamp } = options;
  if (!signature || !timestamp)
    return { ok: false, reason: 'missing X-Slack-Signature or X-Slack-Request-Timestamp' };
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'X-Slack-Request-Timestamp is not a number' };
  if (Math.abs(options.nowSeconds - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS) {
    return { ok: false, reason: 'X-Slack-Request-Timestamp is more than 5 minutes away from now' };
  }
  // Bolt hashes the body as a string; bytes that are not UTF-8 cannot be what Slack signed.
  const body = options.rawBody.toString('utf8');
  if (!Buffer.from(body, 'utf8').equals(options.rawBody)) {
    return { ok: false, reason: 'X-Slack-Signature does not match' };
  }
  try {
    verifySlackRequest({
      signingSecret: options.signingSecret,
      body,
      headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': Number(timestamp) },
      nowMilliseconds: options.nowSeconds * 1000,
    });
    return { ok: true };
  } catch {
    return { ok: false, reason: 'X-Slack-Signature does not match' };
  }
}
