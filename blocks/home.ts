import type { HomeView, KnownBlock } from '@slack/types';
import type { RepView } from '../src/reps/rep.schemas.ts';
import type { ChannelSettings } from '../src/settings/settings.repository.ts';
import { context, escapeMrkdwn, header, section } from './common.ts';
import { COMMANDS } from './ids.ts';

const SOURCE = { google: 'Google Calendar', microsoft: 'Microsoft 365', ics: 'your ICS feed' } as const;

export interface HomeData {
  rep: RepView | undefined;
  canManage: boolean;
  isAdmin: boolean;
  channels: ChannelSettings;
}

function channel(id: string | undefined): string {
  return id ? `<#${id}>` : '_not set_';
}

/** App Home: the viewer's own settings and, in plain words, what Briefly will do for them. */
export function homeView(data: HomeData): HomeView {
  const blocks: KnownBlock[] = [header('Your Briefly')];
  const rep = data.rep;
  if (!rep) {
    blocks.push(
      section(
        "You are not set up as a rep yet, so I won't send you briefings. Ask an admin or manager to add you with `/reps add`.",
      ),
    );
  } else {
    blocks.push(
      section(
        [
          `*Name:* ${escapeMrkdwn(rep.name)}`,
          `*Email:* ${escapeMrkdwn(rep.email)}`,
          `*Time zone:* ${escapeMrkdwn(rep.time_zone)}`,
          `*Briefing time:* ${rep.briefing_time} (prepared from ${rep.prep_time})`,
          `*Calendar:* ${SOURCE[rep.calendar_source]}`,
          `*Role:* ${rep.role}`,
        ].join('\n'),
      ),
    );
    const dm = rep.slack_dm ? ' and as a direct message here' : '';
    const empty = rep.empty_briefings ? 'even on days without meetings' : 'on days when you have meetings';
    blocks.push(
      section(
        `*What I'll do for you:* every morning at *${rep.briefing_time}* (${escapeMrkdwn(rep.time_zone)}), ${empty}, I'll email you a briefing to *${escapeMrkdwn(rep.email)}*${dm} covering your next 24 hours of meetings from ${SOURCE[rep.calendar_source]}, with who you're meeting, their company and role.`,
      ),
    );
  }
  if (data.canManage) {
    blocks.push({ type: 'divider' });
    blocks.push(
      section(`*Managing the team:* \`${COMMANDS.reps}\` lists reps, \`${COMMANDS.reps} add\` adds one.`),
    );
  }
  if (data.isAdmin) {
    blocks.push(
      section(
        [
          '*Workspace settings* (`/briefly settings`):',
          `Alerts: ${channel(data.channels.alert_channel)}`,
          `Daily stats: ${channel(data.channels.stats_channel)}`,
          `Approvals: ${channel(data.channels.approvals_channel)}`,
        ].join('\n'),
      ),
    );
  }
  blocks.push(context(`\`${COMMANDS.briefly} help\` lists every command.`));
  return { type: 'home', blocks };
}
