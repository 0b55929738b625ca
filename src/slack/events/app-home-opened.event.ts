import type { App } from '@slack/bolt';
import type { HomeView } from '@slack/types';
import { homeView } from '../../../blocks/home.ts';
import { toRepView } from '../../reps/rep.repository.ts';
import type { SlackDeps } from '../deps.ts';

export type HomeDeps = Pick<
  SlackDeps,
  'reps' | 'settings' | 'calendarConnect' | 'slackPosts' | 'homeSections'
>;

/** One user's Home tab as it stands now (opened, or re-published when something of theirs changed). */
export async function buildHome(deps: HomeDeps, user: string): Promise<HomeView> {
  const [row, canManage, isAdmin] = await Promise.all([
    deps.reps.bySlackUser(user),
    deps.reps.canManageReps(user),
    deps.reps.isAdmin(user),
  ]);
  const [channels, calendar, held, sections] = await Promise.all([
    isAdmin ? deps.settings.getChannels() : {},
    row ? deps.calendarConnect.status(row.id) : null,
    isAdmin ? deps.slackPosts.held() : [],
    Promise.all((deps.homeSections ?? []).map((section) => section(user))),
  ]);
  return homeView({
    rep: row ? toRepView(row) : undefined,
    canManage,
    isAdmin,
    channels,
    calendar,
    held,
    sections,
  });
}

export function register(app: App, deps: SlackDeps): void {
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab && event.tab !== 'home') return;
    await client.views.publish({ user_id: event.user, view: await buildHome(deps, event.user) });
  });
}
