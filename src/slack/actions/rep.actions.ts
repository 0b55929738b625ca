import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { ACTIONS, REP_FORM_BLOCKS } from '../../../blocks/ids.ts';
import { REPS_PAGE_SIZE, repFormView, repsListMessage } from '../../../blocks/reps.ts';
import { isAppError } from '../../errors.ts';
import { NOT_ALLOWED_REPS, type SlackDeps } from '../deps.ts';
import { fetchSlackProfile } from '../slack-profile.ts';
import { findBlock, readValue, type ViewStateValues } from '../view-state.ts';
import { parseRepFormMetadata } from '../views/rep-form.view.ts';

export function register(app: App, deps: SlackDeps): void {
  const listPage = async (page: number, canManage: boolean) =>
    repsListMessage({ ...(await deps.reps.page(page, REPS_PAGE_SIZE)), canManage });

  app.action<BlockAction<ButtonAction>>(
    new RegExp(`^${ACTIONS.repsPage}`),
    async ({ ack, action, body, respond }) => {
      await ack();
      const page = Math.max(0, Number.parseInt(action.value ?? '0', 10) || 0);
      const canManage = await deps.reps.canManageReps(body.user.id);
      await respond({ replace_original: true, ...(await listPage(page, canManage)) });
    },
  );

  app.action<BlockAction<ButtonAction>>(ACTIONS.repRemove, async ({ ack, action, body, respond }) => {
    await ack();
    if (!(await deps.reps.canManageReps(body.user.id))) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED_REPS });
      return;
    }
    const repId = action.value ?? '';
    let note: string;
    try {
      const rep = await deps.reps.remove(repId, { id: `slack:${body.user.id}`, slackUserId: body.user.id });
      note = `Removed ${rep.name} (${rep.email}).`;
    } catch (error) {
      if (!isAppError(error) || error.code !== 'not_found') throw error;
      note = 'That rep was already removed.';
    }
    const message = await listPage(0, true);
    await respond({
      replace_original: true,
      text: `${note} ${message.text}`,
      blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: note }] }, ...message.blocks],
    });
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.repEdit, async ({ ack, action, body, client, respond }) => {
    await ack();
    if (!(await deps.reps.canManageReps(body.user.id))) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED_REPS });
      return;
    }
    const rep = await deps.reps.findRow(action.value ?? '');
    if (!rep) {
      await respond({
        replace_original: false,
        response_type: 'ephemeral',
        text: 'That rep no longer exists.',
      });
      return;
    }
    await client.views.open({
      trigger_id: body.trigger_id,
      view: repFormView({
        mode: 'edit',
        privateMetadata: JSON.stringify({ repId: rep.id, channelId: body.channel?.id }),
        slackUserId: rep.slackUserId,
        email: rep.email,
        timeZone: rep.timeZone,
        briefingTime: rep.briefingTime,
        calendarSource: rep.calendarSource,
        role: rep.role,
      }),
    });
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.repAdd, async ({ ack, body, client, respond }) => {
    await ack();
    if (!(await deps.reps.canManageReps(body.user.id))) {
      await respond({ replace_original: false, response_type: 'ephemeral', text: NOT_ALLOWED_REPS });
      return;
    }
    await client.views.open({
      trigger_id: body.trigger_id,
      view: repFormView({ mode: 'add', privateMetadata: JSON.stringify({ channelId: body.channel?.id }) }),
    });
  });

  // Picking a user in the modal prefills email and time zone from their Slack profile.
  app.action<BlockAction>(ACTIONS.repUserPicked, async ({ ack, body, client }) => {
    await ack();
    const view = body.view;
    if (!view) return;
    const values = view.state.values as ViewStateValues;
    const userId = readValue(findBlock(values, REP_FORM_BLOCKS.user).value);
    if (!userId) return;
    const profile = await fetchSlackProfile(client, userId);
    const meta = parseRepFormMetadata(view.private_metadata);
    await client.views.update({
      view_id: view.id,
      hash: view.hash,
      view: repFormView({
        mode: meta.repId ? 'edit' : 'add',
        privateMetadata: view.private_metadata,
        slackUserId: userId,
        email: profile.email ?? readValue(findBlock(values, REP_FORM_BLOCKS.email).value),
        timeZone: profile.timeZone ?? readValue(findBlock(values, REP_FORM_BLOCKS.timeZone).value),
        briefingTime: readValue(findBlock(values, REP_FORM_BLOCKS.briefingTime).value),
        calendarSource: readValue(findBlock(values, REP_FORM_BLOCKS.calendarSource).value) as never,
        role: readValue(findBlock(values, REP_FORM_BLOCKS.role).value) as never,
        prefillKey: userId,
      }),
    });
  });
}
