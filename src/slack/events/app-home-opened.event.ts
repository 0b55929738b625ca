import type { App } from '@slack/bolt';
import { homeView } from '../../../blocks/home.ts';
import { toRepView } from '../../reps/rep.repository.ts';
import type { SlackDeps } from '../deps.ts';

export function register(app: App, deps: SlackDeps): void {
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab && event.tab !== 'home') return;
    const [row, canManage, isAdmin] = await Promise.all([
      deps.reps.bySlackUser(event.user),
      deps.reps.canManageReps(event.user),
      deps.reps.isAdmin(event.user),
    ]);
    const [channels, calendar, held] = await Promise.all([
      isAdmin ? deps.settings.getChannels() : {},
      row ? deps.calendarConnect.status(row.id) : null,
      isAdmin ? deps.slackPosts.held() : [],
    ]);
    await client.views.publish({
      user_id: event.user,
      view: homeView({
        rep: row ? toRepView(row) : undefined,
        canManage,
        isAdmin,
        channels,
        calendar,
        held,
      }),
    });
  });
}
