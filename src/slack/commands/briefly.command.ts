import type { App } from '@slack/bolt';
import { helpMessage } from '../../../blocks/help.ts';
import { COMMANDS } from '../../../blocks/ids.ts';
import { settingsView } from '../../../blocks/settings.ts';
import { NOT_ALLOWED_SETTINGS, type SlackDeps } from '../deps.ts';

export function register(app: App, deps: SlackDeps): void {
  app.command(COMMANDS.briefly, async ({ command, ack, client }) => {
    const sub = command.text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const [canManage, isAdmin] = await Promise.all([
      deps.reps.canManageReps(command.user_id),
      deps.reps.isAdmin(command.user_id),
    ]);
    if (sub === 'settings') {
      if (!isAdmin) {
        await ack({ response_type: 'ephemeral', text: NOT_ALLOWED_SETTINGS });
        return;
      }
      await ack();
      await client.views.open({
        trigger_id: command.trigger_id,
        view: settingsView(await deps.settings.getChannels()),
      });
      return;
    }
    const unknown = sub === '' || sub === 'help' ? undefined : command.text.trim();
    await ack({ response_type: 'ephemeral', ...helpMessage({ canManage, isAdmin, unknown }) });
  });
}
