import type { App } from '@slack/bolt';
import { COMMANDS } from '../../../blocks/ids.ts';
import { REPS_PAGE_SIZE, repFormView, repsListMessage } from '../../../blocks/reps.ts';
import { NOT_ALLOWED_REPS, type SlackDeps } from '../deps.ts';

export function register(app: App, deps: SlackDeps): void {
  app.command(COMMANDS.reps, async ({ command, ack, client }) => {
    const [sub = '', ...rest] = command.text.trim().split(/\s+/);
    const canManage = await deps.reps.canManageReps(command.user_id);
    switch (sub.toLowerCase()) {
      case '':
      case 'list': {
        const page = await deps.reps.page(0, REPS_PAGE_SIZE);
        await ack({ response_type: 'ephemeral', ...repsListMessage({ ...page, canManage }) });
        return;
      }
      case 'add': {
        if (!canManage) {
          await ack({ response_type: 'ephemeral', text: NOT_ALLOWED_REPS });
          return;
        }
        await ack();
        await client.views.open({
          trigger_id: command.trigger_id,
          view: repFormView({
            mode: 'add',
            privateMetadata: JSON.stringify({ channelId: command.channel_id }),
          }),
        });
        return;
      }
      default:
        await ack({
          response_type: 'ephemeral',
          text: `I don't know \`/reps ${[sub, ...rest].join(' ').slice(0, 100)}\`. Use \`/reps\` to list reps or \`/reps add\` to add one.`,
        });
    }
  });
}
