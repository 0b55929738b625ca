import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { ACTIONS } from '../../../blocks/ids.ts';
import { statsChannelsView } from '../../../blocks/stats.ts';
import { isAppError } from '../../errors.ts';
import type { SlackDeps } from '../deps.ts';
import { statsChannelViews } from '../views/stats-channels.view.ts';

/** "Daily stats channels" in /briefly settings (pushes the stats modal) and "Remove" inside it. */
export function register(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(ACTIONS.statsChannelsOpen, async ({ ack, body, client }) => {
    await ack();
    const stats = deps.stats;
    if (!stats || !(await deps.reps.isAdmin(body.user.id))) return;
    const [channels, rep] = await Promise.all([stats.listChannels(), deps.reps.bySlackUser(body.user.id)]);
    await client.views.push({
      trigger_id: body.trigger_id,
      view: statsChannelsView(statsChannelViews(channels), { timeZone: rep?.timeZone ?? 'UTC' }),
    });
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.statsChannelRemove, async ({ ack, action, body, client }) => {
    await ack();
    const stats = deps.stats;
    if (!stats || !body.view) return;
    if (!(await deps.reps.isAdmin(body.user.id))) {
      deps.logger.warn('stats channel removal refused: not an admin', { user: body.user.id });
      return;
    }
    try {
      await stats.deleteChannel(action.value ?? '', { id: `slack:${body.user.id}` });
    } catch (error) {
      if (!isAppError(error) || error.code !== 'not_found') throw error;
    }
    const [channels, rep] = await Promise.all([stats.listChannels(), deps.reps.bySlackUser(body.user.id)]);
    await client.views.update({
      view_id: body.view.id,
      hash: body.view.hash,
      view: statsChannelsView(statsChannelViews(channels), { timeZone: rep?.timeZone ?? 'UTC' }),
    });
  });
}
