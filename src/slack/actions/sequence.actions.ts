import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { ACTIONS } from '../../../blocks/ids.ts';
import {
  enrollView,
  sequenceDetailMessage,
  sequenceFormView,
  sequencesListMessage,
} from '../../../blocks/sequences.ts';
import { isAppError } from '../../errors.ts';
import type { SlackDeps } from '../deps.ts';

const NOT_ALLOWED = 'Only Briefly admins and managers can pause, resume or enrol contacts in sequences.';

/** Open, Pause and Resume on the /sequences list. */
export function register(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(ACTIONS.sequenceOpen, async ({ ack, action, respond }) => {
    await ack();
    const sequences = deps.sequences;
    if (!sequences) return;
    const item = (await sequences.overview()).find((s) => s.id === action.value);
    if (!item) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: 'That sequence is gone.' });
      return;
    }
    const full = await sequences.get(item.id);
    await respond({
      replace_original: false,
      response_type: 'ephemeral',
      ...sequenceDetailMessage(item, full.steps),
    });
  });

  app.action<BlockAction<ButtonAction>>(
    ACTIONS.sequenceEnrollOpen,
    async ({ ack, action, body, client, respond }) => {
      await ack();
      const sequences = deps.sequences;
      if (!sequences) return;
      if (!(await deps.reps.canManageReps(body.user.id))) {
        await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED });
        return;
      }
      const item = (await sequences.overview()).find((s) => s.id === action.value);
      if (!item) return;
      await client.views.open({ trigger_id: body.trigger_id, view: enrollView(item) });
    },
  );

  for (const actionId of [ACTIONS.sequenceNew, ACTIONS.sequenceEdit]) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, action, body, client, respond }) => {
      await ack();
      const sequences = deps.sequences;
      if (!sequences) return;
      if (!(await deps.reps.canManageReps(body.user.id))) {
        await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED });
        return;
      }
      const [mailboxes, current] = await Promise.all([
        sequences.mailboxes(),
        actionId === ACTIONS.sequenceEdit ? sequences.get(action.value ?? '') : undefined,
      ]);
      await client.views.open({
        trigger_id: body.trigger_id,
        view: sequenceFormView(current ?? {}, mailboxes),
      });
    });
  }

  for (const [actionId, status] of [
    [ACTIONS.sequencePause, 'paused'],
    [ACTIONS.sequenceResume, 'active'],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, action, body, respond }) => {
      await ack();
      const sequences = deps.sequences;
      if (!sequences) return;
      if (!(await deps.reps.canManageReps(body.user.id))) {
        await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED });
        return;
      }
      try {
        await sequences.setStatus(action.value ?? '', status, `slack:${body.user.id}`);
      } catch (error) {
        if (!isAppError(error) || error.code !== 'not_found') throw error;
      }
      await respond({ replace_original: true, ...sequencesListMessage(await sequences.overview(), true) });
    });
  }
}
