import type { KnownBlock } from '@slack/types';
import { context, header, section } from './common.ts';
import { COMMANDS } from './ids.ts';

export interface HelpData {
  canManage: boolean;
  isAdmin: boolean;
  unknown?: string;
}

export function helpMessage(data: HelpData): { text: string; blocks: KnownBlock[] } {
  const lines = [
    `• \`${COMMANDS.briefly} help\`: this list`,
    `• \`${COMMANDS.reps}\`: list the reps Briefly prepares briefings for`,
  ];
  if (data.canManage) {
    lines.push(
      `• \`${COMMANDS.reps} add\`: add a rep (Slack user, work email, time zone, briefing time, calendar, role)`,
    );
    lines.push('• *Edit* / *Remove* buttons on each rep in the list');
    lines.push(`• \`${COMMANDS.briefly} deliveries\`: email providers, queue depth, the last 24 h by status`);
    lines.push(`• \`${COMMANDS.briefly} message <id>\`: one message and its delivery trail`);
  }
  if (data.isAdmin) lines.push(`• \`${COMMANDS.briefly} settings\`: alert, stats and approvals channels`);
  const blocks: KnownBlock[] = [];
  if (data.unknown)
    blocks.push(section(`I don't know \`${data.unknown.slice(0, 100)}\`. Here is what I can do:`));
  blocks.push(header('Briefly'));
  blocks.push(
    section(
      'Briefly emails every rep a morning briefing of the next 24 hours of meetings, with who they are meeting and from which company.',
    ),
  );
  blocks.push(section(lines.join('\n')));
  blocks.push(context('Open the *Home* tab of this app to see your own settings.'));
  return { text: 'Briefly: what I can do', blocks };
}
