import type { App } from '@slack/bolt';
import { deliveriesMessage, messageTrailMessage } from '../../../blocks/deliveries.ts';
import { helpMessage } from '../../../blocks/help.ts';
import { COMMANDS } from '../../../blocks/ids.ts';
import { settingsView } from '../../../blocks/settings.ts';
import { isAppError } from '../../errors.ts';
import { NOT_ALLOWED_DELIVERIES, NOT_ALLOWED_SETTINGS, type SlackDeps } from '../deps.ts';

export function register(app: App, deps: SlackDeps): void {
  app.command(COMMANDS.briefly, async (args) => {
    const { command, ack, client } = args;
    const sub = command.text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const feature = deps.subcommands?.[sub];
    if (feature) return feature(args, command.text.trim().slice(sub.length));
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
        view: settingsView(await deps.settings.getChannels(), {
          mailout_managers: await deps.settings.getUsers('mailout_managers'),
        }),
      });
      return;
    }
    if (sub === 'deliveries' || sub === 'message') {
      if (!canManage) {
        await ack({ response_type: 'ephemeral', text: NOT_ALLOWED_DELIVERIES });
        return;
      }
      if (sub === 'deliveries') {
        await ack({
          response_type: 'ephemeral',
          ...deliveriesMessage(await deps.delivery.overview(), { canSendTest: isAdmin }),
        });
        return;
      }
      const id = command.text.trim().split(/\s+/)[1] ?? '';
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
        await ack({
          response_type: 'ephemeral',
          text: `Give a message id: \`${COMMANDS.briefly} message 0b6f…\` (the id the API returned)${id ? `; "${id.slice(0, 60)}" is not one` : ''}.`,
        });
        return;
      }
      try {
        await ack({ response_type: 'ephemeral', ...messageTrailMessage(await deps.delivery.message(id)) });
      } catch (error) {
        if (!isAppError(error) || error.code !== 'not_found') throw error;
        await ack({ response_type: 'ephemeral', text: `No message ${id}.` });
      }
      return;
    }
    const unknown = sub === '' || sub === 'help' ? undefined : command.text.trim();
    await ack({ response_type: 'ephemeral', ...helpMessage({ canManage, isAdmin, unknown }) });
  });
}
