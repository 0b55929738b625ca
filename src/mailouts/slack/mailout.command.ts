import type { AllMiddlewareArgs, App, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { COMMANDS } from '../../../blocks/ids.ts';
import { mailoutDetailMessage, mailoutsListMessage } from '../../../blocks/mailouts.ts';
import { isAppError } from '../../errors.ts';
import type { SlackDeps } from '../../slack/deps.ts';
import type { MailoutSlackDeps } from './index.ts';
import { openMailoutForm } from './mailout-form.ts';

export const MAILOUTS_HELP = [
  `• \`${COMMANDS.mailouts}\`: recent mailouts with status, schedule and sent/total; *Open* shows one`,
  `• \`${COMMANDS.mailouts} new\`: draft a mailout in a modal (text, schedule, window, operators and tags, audience)`,
  `• \`${COMMANDS.mailouts} <id>\`: one mailout with its statistics (*Edit* until it starts)`,
  `• \`${COMMANDS.mailouts} help\`: this list (also \`${COMMANDS.briefly} mailouts …\`)`,
  'Managers (chosen in `/briefly settings`) approve, edit-and-approve or reject each request in the approvals channel; the same message then shows live progress with Pause, Resume and Cancel.',
].join('\n');

/** `/mailouts <id>` and Open: the card's content plus statistics. */
export async function mailoutDetail(deps: MailoutSlackDeps, id: number) {
  const row = await deps.service.row(id);
  const [data, stats] = await Promise.all([deps.cards.cardData(row), deps.service.stats(id)]);
  return mailoutDetailMessage(data, {
    total: stats.total,
    counts: stats.counts,
    byOperator: stats.by_operator_code,
    errors: stats.errors,
    throughput: stats.throughput_per_second,
    firstSentAt: stats.first_sent_at,
    lastSentAt: stats.last_sent_at,
  });
}

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/**
 * `/mailouts [new | <id> | help]` (and `/briefly mailouts …`): a table from subcommand to a short
 * handler; each acks within Slack's 3 s with its answer (or acks first and opens a modal).
 */
export function mailoutsCommand(slack: SlackDeps, deps: MailoutSlackDeps) {
  return async (args: CommandArgs, text: string): Promise<void> => {
    const { ack, command, client } = args;
    const sub = text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const handlers: Record<string, () => Promise<void>> = {
      '': async () => {
        const rows = await deps.repo.recent({ limit: 15 });
        await ack({ response_type: 'ephemeral', ...mailoutsListMessage(await deps.cards.listItems(rows)) });
      },
      new: async () => {
        await ack();
        await openMailoutForm(deps, slack, client, command.trigger_id, command.user_id);
      },
      help: async () => ack({ response_type: 'ephemeral', text: MAILOUTS_HELP }),
    };
    if (/^#?\d{1,15}$/.test(sub)) {
      try {
        await ack({
          response_type: 'ephemeral',
          ...(await mailoutDetail(deps, Number(sub.replace('#', '')))),
        });
      } catch (error) {
        if (!isAppError(error) || error.code !== 'not_found') throw error;
        await ack({
          response_type: 'ephemeral',
          text: `No mailout ${sub}. \`${COMMANDS.mailouts}\` lists them.`,
        });
      }
      return;
    }
    const handler = handlers[sub === 'list' ? '' : sub];
    if (handler) return handler();
    await ack({
      response_type: 'ephemeral',
      text: `I don't know \`${text.trim().slice(0, 100)}\`. Here is what I can do:\n${MAILOUTS_HELP}`,
    });
  };
}

export function register(app: App, slack: SlackDeps, deps: MailoutSlackDeps): void {
  const run = mailoutsCommand(slack, deps);
  app.command(COMMANDS.mailouts, async (args) => run(args, args.command.text));
}
