import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { testEmailStatusMessage, testEmailView } from '../../../blocks/deliveries.ts';
import { ACTIONS } from '../../../blocks/ids.ts';
import { TEST_SUBJECT } from '../../delivery/delivery.service.ts';
import { isAppError } from '../../errors.ts';
import { NOT_ALLOWED_DELIVERIES, NOT_ALLOWED_TEST_EMAIL, type SlackDeps } from '../deps.ts';

/** What the test email modal carries to its submission: where to post the status card. */
export interface TestEmailMetadata {
  responseUrl?: string;
}

export function register(app: App, deps: SlackDeps): void {
  // "Send test email" under /briefly deliveries: admins only; the modal opens at once (trigger_id lives 3 s).
  app.action<BlockAction<ButtonAction>>(ACTIONS.testEmailOpen, async ({ ack, body, client, respond }) => {
    await ack();
    if (!(await deps.reps.isAdmin(body.user.id))) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED_TEST_EMAIL });
      return;
    }
    const metadata: TestEmailMetadata = { responseUrl: body.response_url };
    await client.views.open({
      trigger_id: body.trigger_id,
      view: testEmailView(JSON.stringify(metadata), TEST_SUBJECT),
    });
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.testEmailRefresh, async ({ ack, action, body, respond }) => {
    await ack();
    if (!(await deps.reps.canManageReps(body.user.id))) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED_DELIVERIES });
      return;
    }
    try {
      const message = await deps.delivery.message(action.value ?? '');
      await respond({ replace_original: true, ...testEmailStatusMessage(message) });
    } catch (error) {
      if (!isAppError(error) || error.code !== 'not_found') throw error;
      await respond({
        replace_original: false,
        response_type: 'ephemeral',
        text: 'That message no longer exists.',
      });
    }
  });
}
