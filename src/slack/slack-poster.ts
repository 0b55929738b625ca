import { AppError } from '../errors.ts';
import { rateLimitWaitMs } from '../shared/retry-after.ts';

/** Slack answered 429: wait this long before the next chat.postMessage (VENDOR-FACTS §1). */
export class SlackRateLimitedError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`Slack rate limited chat.postMessage; retry after ${retryAfterMs} ms`);
    this.name = 'SlackRateLimitedError';
  }
}

/** Errors that another attempt cannot fix: the channel, token or message itself is wrong. */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'no_permission',
  'missing_scope',
  'msg_too_long',
  'invalid_blocks',
  'too_many_attachments',
]);

/**
 * chat.postMessage with our own rate-limit handling (the `slack` queue honours Retry-After),
 * independent of Bolt so workers can post without the Slack app running in their process.
 */
export async function postSlackMessage(opts: {
  apiUrl: string;
  token: string;
  channel: string;
  text: string;
  blocks?: unknown[];
}): Promise<{ ts: string; channel: string }> {
  let response: Response;
  try {
    response = await fetch(`${opts.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({
        channel: opts.channel,
        text: opts.text,
        ...(opts.blocks ? { blocks: opts.blocks } : {}),
      }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new AppError('unavailable', `Slack chat.postMessage failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (response.status === 429) {
    const waitMs = rateLimitWaitMs(response.headers);
    await response.body?.cancel();
    throw new SlackRateLimitedError(waitMs ? waitMs : 1000);
  }
  let body: { ok?: boolean; error?: string; ts?: string; channel?: string };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new AppError('unavailable', `Slack chat.postMessage answered HTTP ${response.status} without JSON`);
  }
  if (body.ok && body.ts) return { ts: body.ts, channel: body.channel ?? opts.channel };
  const code = body.error ?? `http_${response.status}`;
  throw new AppError(
    PERMANENT.has(code) ? 'vendor_error' : 'unavailable',
    `Slack refused chat.postMessage: ${code}`,
    {
      retryable: !PERMANENT.has(code),
    },
  );
}
