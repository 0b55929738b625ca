/**
 * Watching one message until it settles (`briefly send`, the Slack test button). Polling the
 * stored trail, not the queue: the row is the truth, whichever process sends it.
 */

/** Statuses after which nothing more will happen to a message. */
export const FINAL_STATUSES = new Set([
  'delivered',
  'opened',
  'clicked',
  'bounced',
  'dropped',
  'spam_report',
  'unsubscribed',
  'failed',
  'cancelled',
  'suppressed',
]);

/** Providers that report delivery by webhook; with the others, `sent` is as far as a message gets. */
const WEBHOOK_PROVIDERS = new Set(['sendgrid']);

export interface FollowedMessage {
  id: string;
  status: string;
  provider: string | null;
  last_error: string | null;
  message_id_header: string | null;
  events: { type: string; at: string; provider: string | null; detail: Record<string, unknown> }[];
}

export const isSettled = (m: Pick<FollowedMessage, 'status' | 'provider'>): boolean =>
  FINAL_STATUSES.has(m.status) || (m.status === 'sent' && !WEBHOOK_PROVIDERS.has(m.provider ?? ''));

export const isSuccess = (status: string): boolean =>
  ['sent', 'delivered', 'opened', 'clicked'].includes(status);

/** One line per trail event: "sending (attempt 1)", "sent via smtp", "deferred via sendgrid: 503". */
export function describeEvent(event: FollowedMessage['events'][number]): string {
  const via = event.provider ? ` via ${event.provider}` : '';
  const attempt = typeof event.detail.attempt === 'number' ? ` (attempt ${event.detail.attempt})` : '';
  const reason = typeof event.detail.reason === 'string' ? `: ${event.detail.reason.slice(0, 200)}` : '';
  return `${event.type}${via}${attempt}${reason}`;
}

/**
 * Calls onEvent for every new trail event until the message settles or timeoutMs passes, and
 * returns the last state seen with whether it settled.
 */
export async function followMessage<M extends FollowedMessage>(
  load: () => Promise<M>,
  options: {
    timeoutMs: number;
    intervalMs: number;
    onEvent?: (event: M['events'][number], message: M) => void | Promise<void>;
  },
): Promise<{ message: M; settled: boolean }> {
  const deadline = Date.now() + options.timeoutMs;
  let seen = 0;
  for (;;) {
    const message = await load();
    for (const event of message.events.slice(seen)) await options.onEvent?.(event, message);
    seen = Math.max(seen, message.events.length);
    if (isSettled(message)) return { message, settled: true };
    if (Date.now() >= deadline) return { message, settled: false };
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs, deadline - Date.now())));
  }
}
