import type { KnownBlock, ModalView } from '@slack/types';
import { STATS_SECTIONS, type StatsSection } from '../src/stats/stats.tables.ts';
import { reportDay, reportLines, reportZone } from '../src/stats/stats-lines.ts';
import type { StatsReport } from '../src/stats/stats-report.ts';
import { context, escapeMrkdwn, header, plain, section, truncate } from './common.ts';
import { ACTIONS, CALLBACKS, INPUT_ACTION, STATS_CHANNEL_FORM_BLOCKS } from './ids.ts';

export interface SlackMessageBlocks {
  text: string;
  blocks: KnownBlock[];
}

/** The daily post: a header with the day, the zone, then one section per chosen part of the report. */
export function statsPostMessage(report: StatsReport): SlackMessageBlocks {
  const day = reportDay(report);
  const blocks: KnownBlock[] = [
    header(`Daily stats · ${day}`),
    context(`Numbers for ${escapeMrkdwn(day)}, 00:00–24:00 in ${escapeMrkdwn(reportZone(report))}`),
  ];
  for (const part of reportLines(report)) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(`*${part.title}*\n${part.lines.map((l) => `• ${escapeMrkdwn(l)}`).join('\n')}`, 3000),
      },
    });
  }
  if (report.sections.length === 0) blocks.push(section('_No sections chosen for this channel._'));
  blocks.push(
    context('The chart of the last 14 days is in the thread. Set channels up in `/briefly settings`.'),
  );
  return { text: `Briefly daily stats for ${day}`, blocks: blocks.slice(0, 50) };
}

/** The alert (alert channel, or the admins) when a stats channel stops taking posts. */
export function statsChannelProblemAlert(data: { channelId: string; error: string }): SlackMessageBlocks {
  const fixes: Record<string, string> = {
    not_in_channel: 'I am not a member of it: type `/invite @Briefly` in that channel',
    channel_not_found: 'I cannot see it (deleted, or private without me): invite me with `/invite @Briefly`',
    is_archived: 'it is archived: unarchive it, or remove it and pick another channel',
  };
  const fix = fixes[data.error] ?? `Slack answered \`${escapeMrkdwn(data.error)}\``;
  return {
    text: `Briefly cannot post daily stats to <#${data.channelId}> (${data.error}); that channel is paused.`,
    blocks: [
      section(
        `:warning: *Daily stats cannot be posted to* <#${data.channelId}>: ${fix}. Then save it again in \`/briefly settings\` → *Daily stats channels* (or \`PATCH /v1/stats-channels/{id}\`).`,
      ),
      context(
        `Slack said \`${escapeMrkdwn(data.error)}\`. Briefly stops posting there (no retries) until the channel is saved again; this alert is sent once.`,
      ),
    ],
  };
}

/** The entry in /briefly settings that opens the stats channels modal (appended to that modal). */
export function statsSettingsEntry(): KnownBlock[] {
  return [
    { type: 'divider' },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: '*Daily stats channels*: any number of channels, each with its own time, time zone and sections.',
      },
      accessory: {
        type: 'button',
        action_id: ACTIONS.statsChannelsOpen,
        text: plain('Daily stats channels'),
        value: 'open',
      },
    },
  ];
}

export interface StatsChannelView {
  id: string;
  channelId: string;
  postTime: string;
  timeZone: string;
  sections: StatsSection[];
  status: string;
  brokenReason: string | null;
}

/** The most channels the modal lists (the API has them all). */
export const MAX_CHANNELS_IN_MODAL = 40;

/** The stats channels modal: the channels with Remove, and a form that adds (or changes) one. */
export function statsChannelsView(channels: StatsChannelView[], defaults: { timeZone: string }): ModalView {
  const blocks: KnownBlock[] = [
    section(
      'Each channel gets the *previous local day* at its time: deliveries, mailouts, sequences, appointments and briefings (as chosen), and a chart of the last 14 days in the thread.',
    ),
  ];
  if (channels.length === 0) blocks.push(context('No stats channels yet.'));
  for (const c of channels.slice(0, MAX_CHANNELS_IN_MODAL)) {
    const broken =
      c.status === 'broken' ? ` · :warning: paused: ${escapeMrkdwn(c.brokenReason ?? 'broken')}` : '';
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `<#${c.channelId}> · ${c.postTime} ${escapeMrkdwn(c.timeZone)} · ${c.sections.join(', ') || 'no sections'}${broken}`,
          3000,
        ),
      },
      accessory: {
        type: 'button',
        action_id: ACTIONS.statsChannelRemove,
        text: plain('Remove'),
        style: 'danger',
        value: c.id,
        confirm: {
          title: plain('Remove stats channel?', 100),
          text: plain(`Briefly stops posting daily stats to this channel.`, 300),
          confirm: plain('Remove', 30),
          deny: plain('Keep', 30),
        },
      },
    });
  }
  if (channels.length > MAX_CHANNELS_IN_MODAL) {
    blocks.push(context(`and ${channels.length - MAX_CHANNELS_IN_MODAL} more (see GET /v1/stats-channels)`));
  }
  blocks.push(
    { type: 'divider' },
    section('*Add a channel* (a channel already listed gets the new time, zone and sections)'),
    {
      type: 'input',
      block_id: STATS_CHANNEL_FORM_BLOCKS.channel,
      optional: true,
      label: plain('Channel', 2000),
      hint: plain(
        'Briefly joins a public channel itself; invite it to a private one first (/invite @Briefly).',
        2000,
      ),
      element: {
        type: 'conversations_select',
        action_id: INPUT_ACTION,
        filter: { include: ['public', 'private'], exclude_bot_users: true },
      },
    },
    {
      type: 'input',
      block_id: STATS_CHANNEL_FORM_BLOCKS.time,
      label: plain('Local time', 2000),
      element: { type: 'timepicker', action_id: INPUT_ACTION, initial_time: '09:00' },
    },
    {
      type: 'input',
      block_id: STATS_CHANNEL_FORM_BLOCKS.timeZone,
      label: plain('Time zone', 2000),
      hint: plain(
        'IANA name, such as Asia/Kolkata or America/New_York. Numbers are for the previous day there.',
        2000,
      ),
      element: { type: 'plain_text_input', action_id: INPUT_ACTION, initial_value: defaults.timeZone },
    },
    {
      type: 'input',
      block_id: STATS_CHANNEL_FORM_BLOCKS.sections,
      label: plain('Sections', 2000),
      element: {
        type: 'checkboxes',
        action_id: INPUT_ACTION,
        options: STATS_SECTIONS.map((s) => ({ text: plain(s), value: s })),
        initial_options: STATS_SECTIONS.map((s) => ({ text: plain(s), value: s })),
      },
    },
  );
  return {
    type: 'modal',
    callback_id: CALLBACKS.statsChannels,
    title: plain('Daily stats channels', 24),
    submit: plain('Add channel', 24),
    close: plain('Back', 24),
    blocks,
  };
}
