import type { KnownBlock } from '@slack/types';
import { context, header, section } from './common.ts';
import { COMMANDS } from './ids.ts';

export interface HelpData {
  canManage: boolean;
  isAdmin: boolean;
  unknown?: string;
}

/** What `/briefing` does, for the help and for `/briefing help`. */
export function briefingCommandLines(canManage: boolean): string[] {
  const lines = [
    `• \`${COMMANDS.briefing}\`: preview your briefing for the next 24 hours (not sent)`,
    `• \`${COMMANDS.briefing} send\`: email your briefing to you now`,
    `• \`${COMMANDS.briefing} settings\`: delivery time, preparation time, time zone, Slack DM, empty briefings`,
    `• \`${COMMANDS.briefing} connect google\`, \`${COMMANDS.briefing} connect microsoft\` or \`${COMMANDS.briefing} connect ics &lt;feed URL&gt;\`: connect your calendar`,
  ];
  if (canManage) lines.push(`• \`${COMMANDS.briefing} preview @rep\`: see a rep's briefing as it stands now`);
  return lines;
}

export function helpMessage(data: HelpData): { text: string; blocks: KnownBlock[] } {
  const lines = [
    `• \`${COMMANDS.briefly} help\`: this list`,
    ...briefingCommandLines(data.canManage),
    `• \`${COMMANDS.reps}\`: list the reps Briefly prepares briefings for`,
    `• \`${COMMANDS.mailouts}\` (or \`${COMMANDS.briefly} mailouts\`): mailouts; \`${COMMANDS.mailouts} new\` drafts one for approval`,
  ];
  if (data.canManage) {
    lines.push(
      `• \`${COMMANDS.reps} add\`: add a rep (Slack user, work email, time zone, briefing time, calendar, role)`,
    );
    lines.push('• *Edit* / *Remove* buttons on each rep in the list');
    lines.push(`• \`${COMMANDS.briefly} deliveries\`: email providers, queue depth, the last 24 h by status`);
    lines.push(`• \`${COMMANDS.briefly} message <id>\`: one message and its delivery trail`);
  }
  if (data.isAdmin)
    lines.push(`• \`${COMMANDS.briefly} settings\`: alert, stats and approvals channels, mailout managers`);
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
