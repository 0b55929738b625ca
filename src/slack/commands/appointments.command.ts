import type { AllMiddlewareArgs, App, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { COMMANDS } from '../../../blocks/ids.ts';
import type { RepRow } from '../../reps/rep.repository.ts';
import { NOT_A_REP, openAppointmentForm, upcomingMessage } from '../appointments-slack.ts';
import type { SlackDeps } from '../deps.ts';

type Args = SlackCommandMiddlewareArgs & AllMiddlewareArgs;
type Subcommand = (args: Args, deps: SlackDeps, rep: RepRow) => Promise<void>;

const HELP =
  '`/appointments` lists your upcoming appointments (with Reschedule and Cancel); `/appointments new` books one.';

/** `/appointments [new|help]`: one short handler per subcommand. */
const SUBCOMMANDS: Record<string, Subcommand> = {
  '': async ({ ack }, deps, rep) => {
    await ack({ response_type: 'ephemeral', ...(await upcomingMessage(deps, rep)) });
  },
  new: async ({ ack, client, command }, deps, rep) => {
    await ack();
    await openAppointmentForm(client, command.trigger_id, deps, rep, { channelId: command.channel_id });
  },
  help: async ({ ack }) => {
    await ack({ response_type: 'ephemeral', text: HELP });
  },
};
SUBCOMMANDS.list = SUBCOMMANDS[''] as Subcommand;

export function register(app: App, deps: SlackDeps): void {
  app.command(COMMANDS.appointments, async (args) => {
    const sub = args.command.text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const handler = SUBCOMMANDS[sub];
    if (!handler) {
      await args.ack({
        response_type: 'ephemeral',
        text: `I don't know \`/appointments ${sub.slice(0, 50)}\`. ${HELP}`,
      });
      return;
    }
    const rep = await deps.reps.bySlackUser(args.command.user_id);
    if (!rep) {
      await args.ack({ response_type: 'ephemeral', text: sub === 'help' ? HELP : NOT_A_REP });
      return;
    }
    await handler(args, deps, rep);
  });
}
