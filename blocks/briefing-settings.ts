import type { ActionsBlock, InputBlock, KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { BriefingModel } from '../src/briefings/briefing.model.ts';
import type { SyncOutcome } from '../src/calendars/calendar-sync.service.ts';
import { briefingBlocks } from './briefing.ts';
import { context, escapeMrkdwn, header, plain, section, truncate } from './common.ts';
import { briefingCommandLines } from './help.ts';
import {
  ACTIONS,
  BRIEFING_SETTINGS_BLOCKS,
  BRIEFING_SETTINGS_OPTIONS,
  CALLBACKS,
  COMMANDS,
  INPUT_ACTION,
} from './ids.ts';

type Message = { text: string; blocks: KnownBlock[] };

export const NOT_A_REP =
  'You are not set up as a rep yet: ask a manager to add you with /reps add (then connect your calendar with /briefing connect).';

export const NOT_ALLOWED_PREVIEW =
  "Only Briefly admins and managers can preview another rep's briefing. Use /briefing to see your own.";

const PROVIDER_NAMES: Record<string, string> = {
  google: 'Google Calendar',
  microsoft: 'Microsoft 365 calendar',
  ics: 'ICS feed',
};

const CONNECT_COMMANDS: Record<string, string> = {
  google: `\`${COMMANDS.briefing} connect google\``,
  microsoft: `\`${COMMANDS.briefing} connect microsoft\``,
  ics: `\`${COMMANDS.briefing} connect ics &lt;feed URL&gt;\``,
};

const providerName = (provider: string) => PROVIDER_NAMES[provider] ?? provider;

/**
 * A feed URL with its path cut off: a published ICS address carries its secret in the path or the
 * query, so only the host is ever shown or logged.
 */
export function maskFeedUrl(url: string): string {
  try {
    const parsed = new URL(url.replace(/^webcal:/i, 'https:'));
    if (parsed.protocol === 'file:') return 'a local file';
    return `${parsed.host}/…`;
  } catch {
    return 'that address';
  }
}

/** `/briefing help` and unknown subcommands. */
export function briefingUsageMessage(data: { canManage: boolean; unknown?: string }): Message {
  const blocks: KnownBlock[] = [];
  if (data.unknown) {
    blocks.push(
      section(
        `I don't know \`${escapeMrkdwn(truncate(`${COMMANDS.briefing} ${data.unknown}`, 100))}\`. Here is what it does:`,
      ),
    );
  }
  blocks.push(header('Your morning briefing'));
  blocks.push(section(briefingCommandLines(data.canManage).join('\n')));
  blocks.push(context('Times are in your time zone; change it with `/briefing settings`.'));
  return { text: `${COMMANDS.briefing}: preview, send, settings, connect`, blocks };
}

/** What to tell someone who typed a subcommand without what it needs. */
export function connectUsageMessage(problem?: string): Message {
  const lines = [
    `• ${CONNECT_COMMANDS.google}: Google Workspace (your admin may have set it up for everyone)`,
    `• ${CONNECT_COMMANDS.microsoft}: Microsoft 365 / Outlook`,
    `• ${CONNECT_COMMANDS.ics}: any calendar's private ICS/iCal address (Google: Settings › "Secret address in iCal format"; Outlook: Publish calendar › ICS)`,
  ];
  return {
    text: problem ?? 'Connect your calendar with /briefing connect google, microsoft or ics <feed URL>.',
    blocks: [
      ...(problem ? [section(escapeMrkdwn(problem))] : []),
      section(`*Connect your calendar*\n${lines.join('\n')}`),
    ],
  };
}

/**
 * A briefing shown in Slack, not sent. The note goes into the first context block rather than a
 * block of its own, so a briefing that already uses all 50 blocks still fits.
 */
export function briefingPreviewMessage(
  model: BriefingModel,
  options: { previewOf?: string; connectHint?: string } = {},
): Message {
  const rendered = briefingBlocks(model);
  const note = options.previewOf
    ? `:eyes: Preview of <@${options.previewOf}>'s briefing as it stands now (not sent)`
    : ':eyes: Preview as it stands now (not sent; `/briefing send` emails it)';
  const blocks = rendered.blocks.map((block, index) =>
    index === 1 && block.type === 'context' && block.elements.length < 10
      ? { ...block, elements: [{ type: 'mrkdwn' as const, text: note }, ...block.elements] }
      : block,
  );
  const empty = model.meetings.length === 0 && model.allDay.length === 0;
  if (empty && options.connectHint) blocks.push(context(options.connectHint));
  const text = options.previewOf
    ? `Preview of <@${options.previewOf}>'s briefing: ${rendered.text}`
    : rendered.text;
  return { text, blocks };
}

/** Shown under an empty preview: meetings come from a calendar, which may not be connected yet. */
export function connectHint(
  preferred: string,
  ownRep: boolean,
  calendar: { provider: string; status: 'active' | 'broken'; brokenReason: string | null } | null,
): string {
  if (calendar?.status === 'broken') {
    const how = CONNECT_COMMANDS[calendar.provider] ?? CONNECT_COMMANDS.google;
    const reason = escapeMrkdwn(truncate(calendar.brokenReason ?? 'unknown', 300));
    return ownRep
      ? `No meetings found: Briefly can no longer read your calendar (${reason}). Reconnect it with ${how}.`
      : `No meetings found: this rep's calendar connection is broken (${reason}); they can reconnect with \`/briefing connect\`.`;
  }
  if (calendar) {
    return ownRep
      ? `No meetings in the next 24 hours in your ${providerName(calendar.provider)}.`
      : `No meetings in the next 24 hours in this rep's ${providerName(calendar.provider)}.`;
  }
  const how = CONNECT_COMMANDS[preferred] ?? CONNECT_COMMANDS.google;
  return ownRep
    ? `No meetings found: your calendar is not connected yet. Connect it with ${how} (\`/briefing connect\` lists every option).`
    : 'No meetings found: this rep has not connected a calendar yet; they can do it with `/briefing connect`.';
}

/** A consent link: Slack opens the URL in the browser; the click itself is acked and ignored. */
export function authorizeMessage(provider: string, url: string): Message {
  const name = providerName(provider);
  const actions: ActionsBlock = {
    type: 'actions',
    block_id: 'calendar_connect',
    elements: [
      {
        type: 'button',
        action_id: ACTIONS.calendarConnectLink,
        text: plain(`Connect ${name}`),
        style: 'primary',
        url,
      },
    ],
  };
  return {
    text: `Open the link to let Briefly read your ${name}.`,
    blocks: [
      section(
        `Let Briefly read your *${name}* (read-only): press the button, sign in and accept. I'll sync it as soon as you are back.`,
      ),
      actions,
      context('The link is yours alone and expires in 15 minutes.'),
    ],
  };
}

const RECONNECT_ADVICE: Record<string, string> = {
  google: `Run ${CONNECT_COMMANDS.google} again and accept the access request; if your admin set up Briefly for the whole workspace, ask them to check its access to your calendar.`,
  microsoft: `Run ${CONNECT_COMMANDS.microsoft} again and sign in; if your admin set up Briefly for the whole company, ask them to check that its Microsoft app has the Calendars.Read permission with admin consent.`,
  ics: `Check that you copied the calendar's private ICS/iCal address and that it still opens in a browser, then run ${CONNECT_COMMANDS.ics} again.`,
};

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** After a connect that stored the credential and ran the first sync. */
export function connectedMessage(data: { provider: string; outcome: SyncOutcome; source?: string }): Message {
  const name = providerName(data.provider);
  const from = data.source ? ` (${escapeMrkdwn(data.source)})` : '';
  const outcome = data.outcome;
  if (outcome.status === 'synced') {
    const synced = outcome.unchanged
      ? 'nothing changed since the last sync'
      : `${plural(outcome.upserted, 'event', 'events')} synced`;
    return {
      text: `Connected: ${synced}.`,
      blocks: [
        section(`:white_check_mark: Connected your ${name}${from}: ${synced}.`),
        context('Run `/briefing` to preview your briefing.'),
      ],
    };
  }
  if (outcome.status === 'broken') {
    const advice = RECONNECT_ADVICE[data.provider] ?? 'Run `/briefing connect` again.';
    return {
      text: `Your ${name} is saved, but Briefly cannot read it: ${truncate(outcome.reason, 300)}`,
      blocks: [
        section(
          `:warning: Your ${name}${from} is saved, but Briefly cannot read it:\n>${escapeMrkdwn(truncate(outcome.reason, 500))}`,
        ),
        section(advice),
      ],
    };
  }
  return {
    text: 'No calendar is connected: try again.',
    blocks: [section(`No calendar is connected. ${connectLines()}`)],
  };
}

/** After `/briefing send`: what happened, and for a briefing not sent, why. */
export function sendResultMessage(data: {
  status: string;
  email: string;
  reason?: string | null;
  meetingCount?: number | null;
}): Message {
  const reason = data.reason ? truncate(data.reason, 500) : undefined;
  if (data.status === 'scheduled' || data.status === 'sent') {
    const count =
      data.meetingCount === null || data.meetingCount === undefined
        ? ''
        : ` (${plural(data.meetingCount, 'meeting', 'meetings')})`;
    const text = `Sent to ${data.email}${count}: it should be in your inbox within a minute.`;
    return { text, blocks: [section(`:email: ${escapeMrkdwn(text)}`)] };
  }
  if (data.status === 'failed') {
    const text = `Your briefing was not sent: ${reason ?? 'it could not be prepared'}.`;
    const blocks = [section(`:warning: ${escapeMrkdwn(text)}`)];
    if (reason?.includes('calendar')) blocks.push(section(connectLines()));
    return { text, blocks };
  }
  if (data.status === 'empty') {
    const text = `Nothing was sent: ${reason ?? 'you have no meetings in the next 24 hours'}.`;
    return { text, blocks: [section(escapeMrkdwn(text))] };
  }
  const text = `Your briefing is ${data.status}${reason ? `: ${reason}` : ''}.`;
  return { text, blocks: [section(escapeMrkdwn(text))] };
}

function connectLines(): string {
  return `Connect or reconnect your calendar with ${CONNECT_COMMANDS.google}, ${CONNECT_COMMANDS.microsoft} or ${CONNECT_COMMANDS.ics}.`;
}

export interface BriefingSettingsData {
  briefingTime: string;
  prepTime: string;
  timeZone: string;
  slackDm: boolean;
  emptyBriefings: boolean;
  privateMetadata?: string;
}

const SLACK_DM_OPTION: PlainTextOption = {
  text: plain('Also send my briefing as a Slack DM'),
  value: BRIEFING_SETTINGS_OPTIONS.slackDm,
};
const EMPTY_OPTION: PlainTextOption = {
  text: plain('Send a briefing on days without meetings'),
  value: BRIEFING_SETTINGS_OPTIONS.emptyBriefings,
};

/** The rep's own settings (`/briefing settings`), prefilled from the rep. */
export function briefingSettingsView(data: BriefingSettingsData): ModalView {
  const initial = [
    ...(data.slackDm ? [SLACK_DM_OPTION] : []),
    ...(data.emptyBriefings ? [EMPTY_OPTION] : []),
  ];
  const blocks: InputBlock[] = [
    {
      type: 'input',
      block_id: BRIEFING_SETTINGS_BLOCKS.briefingTime,
      label: plain('Delivery time', 2000),
      hint: plain('When the briefing reaches your inbox, in your time zone.', 2000),
      element: { type: 'timepicker', action_id: INPUT_ACTION, initial_time: data.briefingTime },
    },
    {
      type: 'input',
      block_id: BRIEFING_SETTINGS_BLOCKS.prepTime,
      label: plain('Preparation time', 2000),
      hint: plain(
        'When Briefly starts reading your calendar and looking people up; before the delivery time.',
        2000,
      ),
      element: { type: 'timepicker', action_id: INPUT_ACTION, initial_time: data.prepTime },
    },
    {
      type: 'input',
      block_id: BRIEFING_SETTINGS_BLOCKS.timeZone,
      label: plain('Time zone', 2000),
      hint: plain('An IANA time zone such as Europe/Paris or America/New_York.', 2000),
      element: {
        type: 'plain_text_input',
        action_id: INPUT_ACTION,
        initial_value: data.timeZone,
        placeholder: plain('Europe/Paris'),
      },
    },
    {
      type: 'input',
      block_id: BRIEFING_SETTINGS_BLOCKS.options,
      optional: true,
      label: plain('Delivery', 2000),
      element: {
        type: 'checkboxes',
        action_id: INPUT_ACTION,
        options: [SLACK_DM_OPTION, EMPTY_OPTION],
        // Slack rejects an empty initial_options array: leave it out when nothing is on.
        ...(initial.length > 0 ? { initial_options: initial } : {}),
      },
    },
  ];
  return {
    type: 'modal',
    callback_id: CALLBACKS.briefingSettings,
    ...(data.privateMetadata ? { private_metadata: data.privateMetadata } : {}),
    title: plain('Briefing settings', 24),
    submit: plain('Save', 24),
    close: plain('Cancel', 24),
    blocks,
  };
}

/** The confirmation after saving the settings modal. */
export function settingsSavedMessage(data: {
  briefingTime: string;
  prepTime: string;
  timeZone: string;
  slackDm: boolean;
  emptyBriefings: boolean;
}): Message {
  const text = `Saved: your briefing is prepared from ${data.prepTime} and delivered at ${data.briefingTime} (${data.timeZone}), ${data.slackDm ? 'by email and Slack DM' : 'by email only'}, ${data.emptyBriefings ? 'also on days without meetings' : 'only on days with meetings'}.`;
  return { text, blocks: [section(`:white_check_mark: ${escapeMrkdwn(text)}`)] };
}
