import type { HomeView, KnownBlock } from '@slack/types';
import type { CalendarStatus } from '../src/calendars/calendar-connect.service.ts';
import type { RepView } from '../src/reps/rep.schemas.ts';
import { type ChannelSettings, isSettingKey, SETTINGS } from '../src/settings/settings.repository.ts';
import type { HeldPosts } from '../src/slack/posts/slack-post.service.ts';
import { context, escapeMrkdwn, header, section } from './common.ts';
import { COMMANDS } from './ids.ts';

const SOURCE = { google: 'Google Calendar', microsoft: 'Microsoft 365', ics: 'your ICS feed' } as const;

export interface HomeData {
  rep: RepView | undefined;
  canManage: boolean;
  isAdmin: boolean;
  channels: ChannelSettings;
  /** The viewer's calendar connection; null when none is connected yet. */
  calendar?: CalendarStatus | null;
  /** Admins only: posts waiting for a broken channel setting to be fixed. */
  held?: HeldPosts[];
  /** Features' sections: `top` first (e.g. mailouts waiting for approval), `bottom` last. */
  sections?: { top?: KnownBlock[]; bottom?: KnownBlock[] }[];
}

function calendarLine(rep: RepView, calendar: CalendarStatus | null | undefined): string {
  if (!calendar) {
    const how =
      rep.calendar_source === 'ics'
        ? `${COMMANDS.briefing} connect ics <feed URL>`
        : `${COMMANDS.briefing} connect ${rep.calendar_source}`;
    return `*Calendar:* ${SOURCE[rep.calendar_source]}, *not connected yet*: run \`${how}\``;
  }
  if (calendar.status === 'broken') {
    return `*Calendar:* ${SOURCE[calendar.provider]}, :warning: *not working* (${escapeMrkdwn(calendar.brokenReason ?? 'unknown')}): reconnect with \`${COMMANDS.briefing} connect ${calendar.provider}\``;
  }
  const synced = calendar.lastSyncedAt
    ? `last synced <!date^${Math.floor(calendar.lastSyncedAt.getTime() / 1000)}^{date_short_pretty} {time}|${calendar.lastSyncedAt.toISOString()}>`
    : 'first sync pending';
  return `*Calendar:* ${SOURCE[calendar.provider]}, connected (${synced})`;
}

function channel(id: string | undefined): string {
  return id ? `<#${id}>` : '_not set_';
}

/** App Home: the viewer's own settings and, in plain words, what Briefly will do for them. */
export function homeView(data: HomeData): HomeView {
  const blocks: KnownBlock[] = [...(data.sections ?? []).flatMap((s) => s.top ?? []), header('Your Briefly')];
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
          calendarLine(rep, data.calendar),
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
    const warnings: string[] = [];
    if (!data.channels.alert_channel) {
      warnings.push(
        ':warning: *No alert channel is set*: alerts go to every admin by direct message. Choose a channel with `/briefly settings`.',
      );
    }
    for (const held of data.held ?? []) {
      const label = isSettingKey(held.setting) ? SETTINGS[held.setting].label.toLowerCase() : held.setting;
      const where = held.channelId ? `<#${held.channelId}>` : 'its channel';
      warnings.push(
        `:warning: *${held.count} ${held.count === 1 ? 'post is' : 'posts are'} waiting* because I cannot post to the ${escapeMrkdwn(label)} ${where} (Slack said \`${escapeMrkdwn(held.error ?? 'unknown')}\`). Invite me there with \`/invite @Briefly\` or pick another channel, then save \`/briefly settings\`.`,
      );
    }
    for (const warning of warnings.slice(0, 10)) blocks.push(section(warning));
  }
  blocks.push(...(data.sections ?? []).flatMap((s) => s.bottom ?? []));
  blocks.push(context(`\`${COMMANDS.briefly} help\` lists every command.`));
  // A Home tab holds at most 100 blocks: features' sections are cut before the footer goes.
  return {
    type: 'home',
    blocks: blocks.length > 100 ? [...blocks.slice(0, 99), blocks[blocks.length - 1] as KnownBlock] : blocks,
  };
}
