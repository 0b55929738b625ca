import type { App } from '@slack/bolt';
import { testEmailStatusMessage } from '../../../blocks/deliveries.ts';
import { CALLBACKS, TEST_EMAIL_BLOCKS, TEST_EMAIL_RECIPIENTS } from '../../../blocks/ids.ts';
import { followMessage } from '../../delivery/follow-message.ts';
import { isAppError } from '../../errors.ts';
import type { TestEmailMetadata } from '../actions/test-email.actions.ts';
import { NOT_ALLOWED_TEST_EMAIL, type SlackDeps } from '../deps.ts';
import { fetchSlackProfile } from '../slack-profile.ts';
import { findBlock, readValue, type ViewStateValues } from '../view-state.ts';

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/**
 * How long the card follows the message by itself. A response_url takes 5 posts in 30 minutes:
 * the first card plus at most 3 status changes leaves one spare; "Refresh status" gets a fresh URL.
 */
const FOLLOW = { timeoutMs: 60_000, intervalMs: 1_000, maxUpdates: 3 };

function parseMetadata(raw: string): TestEmailMetadata {
  try {
    const parsed = JSON.parse(raw) as TestEmailMetadata;
    return typeof parsed.responseUrl === 'string' && parsed.responseUrl.startsWith('https://')
      ? { responseUrl: parsed.responseUrl }
      : {};
  } catch {
    return {};
  }
}

export function register(app: App, deps: SlackDeps): void {
  const log = deps.logger.child({ component: 'slack-test-email' });

  const post = async (responseUrl: string, payload: Record<string, unknown>) => {
    const res = await fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`response_url answered ${res.status}`);
  };

  /** Replaces the card at each status change until the message settles (bounded, see FOLLOW). */
  const follow = async (id: string, responseUrl: string, initialStatus: string) => {
    let shown = initialStatus;
    let updates = 0;
    await followMessage(() => deps.delivery.message(id), {
      timeoutMs: FOLLOW.timeoutMs,
      intervalMs: FOLLOW.intervalMs,
      onEvent: async (_event, message) => {
        if (message.status === shown || updates >= FOLLOW.maxUpdates) return;
        shown = message.status;
        updates++;
        await post(responseUrl, { replace_original: true, ...testEmailStatusMessage(message) });
      },
    });
  };

  app.view(CALLBACKS.sendTestEmail, async ({ ack, body, view, client }) => {
    const values = view.state.values as ViewStateValues;
    const recipient = findBlock(values, TEST_EMAIL_BLOCKS.recipient);
    const address = findBlock(values, TEST_EMAIL_BLOCKS.address);
    if (!(await deps.reps.isAdmin(body.user.id))) {
      await ack({ response_action: 'errors', errors: { [recipient.blockId]: NOT_ALLOWED_TEST_EMAIL } });
      return;
    }
    const typed = readValue(address.value);
    let to: string | undefined;
    if (readValue(recipient.value) === TEST_EMAIL_RECIPIENTS.address) {
      if (!typed || !EMAIL.test(typed)) {
        await ack({
          response_action: 'errors',
          errors: { [address.blockId]: 'Give an email address such as ana@example.com' },
        });
        return;
      }
      to = typed;
    } else {
      to =
        (await deps.reps.bySlackUser(body.user.id))?.email ??
        (await fetchSlackProfile(client, body.user.id)).email;
      if (!to) {
        await ack({
          response_action: 'errors',
          errors: {
            [recipient.blockId]:
              'Briefly does not know your email (you are not a rep and Slack did not share it): choose "Another address".',
          },
        });
        return;
      }
    }
    await ack();
    const subject = readValue(findBlock(values, TEST_EMAIL_BLOCKS.subject).value);
    const { responseUrl } = parseMetadata(view.private_metadata);
    try {
      const sent = await deps.delivery.sendTest({ to, subject, requestedBy: `slack:${body.user.id}` });
      const message = await deps.delivery.message(sent.id);
      if (!responseUrl) return;
      await post(responseUrl, { replace_original: true, ...testEmailStatusMessage(message) });
      // Not awaited: the card follows the message in the background; a failure only ends the following.
      follow(sent.id, responseUrl, message.status).catch((error: Error) =>
        log.debug('stopped following the test email', { message_id: sent.id, error: error.message }),
      );
    } catch (error) {
      const text = isAppError(error) ? error.message : 'The test email could not be queued; it was logged.';
      if (!isAppError(error)) log.error('test email failed', { error: (error as Error).message });
      if (responseUrl) await post(responseUrl, { replace_original: false, response_type: 'ephemeral', text });
    }
  });
}
