import type { App } from '@slack/bolt';
import { COMMANDS } from '../../../blocks/ids.ts';
import { sequencesListMessage } from '../../../blocks/sequences.ts';
import type { SlackDeps } from '../deps.ts';

const HELP =
  '`/sequences` lists sequences with today\'s planned and sent mails per mailbox, replies and bounces; *Open* shows the steps, *Pause*/*Resume* (managers and admins) stop or restart sending. Sequences, contacts and enrollments are created through the API (`/v1/sequences`, see README, "Sequences").';

/** `/sequences [help]`: a small table from subcommand to handler. */
export function register(app: App, deps: SlackDeps): void {
  app.command(COMMANDS.sequences, async ({ command, ack }) => {
    const sub = command.text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const handlers: Record<string, () => Promise<void>> = {
      '': async () => {
        if (!deps.sequences)
          return ack({ response_type: 'ephemeral', text: 'Sequences are not available here.' });
        const [list, canManage] = await Promise.all([
          deps.sequences.overview(),
          deps.reps.canManageReps(command.user_id),
        ]);
        await ack({ response_type: 'ephemeral', ...sequencesListMessage(list, canManage) });
      },
      help: async () => ack({ response_type: 'ephemeral', text: HELP }),
    };
    const handler = handlers[sub] ?? handlers[sub === 'list' ? '' : 'help'];
    await handler?.();
  });
}
