import type { Button, KnownBlock, ModalView } from '@slack/types';
import { context, escapeMrkdwn, header, plain, section, truncate } from './common.ts';
import { ACTIONS, CALLBACKS } from './ids.ts';

type Alert = { text: string; blocks: KnownBlock[] };

/** The send API's circuit opened (sending paused) or closed again (a probe succeeded). */
export function sendApiCircuitAlert(data: { to: 'open' | 'closed'; reason: string; at: Date }): Alert {
  const open = data.to === 'open';
  const text = open
    ? `Send API is failing: mailout sending is paused (${truncate(data.reason, 200)})`
    : 'Send API recovered: mailout sending resumed';
  return {
    text,
    blocks: [
      header(open ? 'Send API down: mailouts paused' : 'Send API recovered'),
      section(
        open
          ? `:red_circle: Mailout sending is paused. Last error:\n>${escapeMrkdwn(truncate(data.reason, 1000))}`
          : ':large_green_circle: A probe succeeded; mailout sending resumed by itself.',
      ),
      context(
        open
          ? 'Briefly probes the send API and resumes on its own; messages wait (never past their mailout end).'
          : `Recovered at ${data.at.toISOString()}.`,
      ),
    ],
  };
}

export function sendApiTokenAlert(data: { expiresAt: Date; days: number }): Alert {
  const when = data.expiresAt.toISOString();
  const text =
    data.days <= 0
      ? `SEND_API_TOKEN expired at ${when}: mailouts cannot be sent`
      : `SEND_API_TOKEN expires in ${data.days} day(s) (${when})`;
  return {
    text,
    blocks: [
      header('Send API token expiring'),
      section(`:warning: ${escapeMrkdwn(text)}. Ask the vendor for a new token and set \`SEND_API_TOKEN\`.`),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Mailouts in Slack: /mailouts list and detail, the approval card that becomes the progress card,
// the audience modal, App Home sections. Pure builders: data in, Block Kit out.

export type MailoutState =
  | 'draft'
  | 'pending_approval'
  | 'scheduled'
  | 'running'
  | 'paused'
  | 'finished'
  | 'expired'
  | 'cancelled'
  | 'rejected';

export interface MailoutCardData {
  id: number;
  name: string;
  text: string;
  status: MailoutState;
  version: number;
  /** Slack user id (shown as a mention) or another identity (shown as text). */
  createdBy: string;
  startsAt: Date;
  endsAt: Date;
  window: { from: string; to: string } | null;
  operatorCodes: string[];
  tags: string[];
  audience?: { total: number; inWindowNow: number };
  approvedBy: string | null;
  approvedAt: Date | null;
  rejectedBy: string | null;
  rejectionReason: string | null;
  startedAt: Date | null;
  endedAt: Date | null;
  /** Message counts by status, once it runs. */
  counts?: Record<string, number>;
  /** Sent per second over the sending so far. */
  ratePerSecond?: number | null;
  /** When the card was rendered (its "updated" line). */
  at: Date;
}

const STATUS_LABEL: Record<MailoutState, string> = {
  draft: 'draft',
  pending_approval: 'waiting for approval',
  scheduled: 'scheduled',
  running: 'running',
  paused: 'paused',
  finished: 'finished',
  expired: 'ended (some expired)',
  cancelled: 'cancelled',
  rejected: 'rejected',
};
const STATUS_EMOJI: Record<MailoutState, string> = {
  draft: ':memo:',
  pending_approval: ':hourglass_flowing_sand:',
  scheduled: ':calendar:',
  running: ':arrow_forward:',
  paused: ':double_vertical_bar:',
  finished: ':white_check_mark:',
  expired: ':heavy_check_mark:',
  cancelled: ':no_entry_sign:',
  rejected: ':x:',
};

/** Slack renders this in each viewer's own time zone (the fallback is UTC ISO). */
export function slackDate(at: Date, format = '{date_short_pretty} {time}'): string {
  return `<!date^${Math.floor(at.getTime() / 1000)}^${format}|${at.toISOString()}>`;
}

export function who(identity: string | null | undefined): string {
  if (!identity) return 'someone';
  return /^[UW][A-Z0-9]{2,}$/.test(identity) ? `<@${identity}>` : escapeMrkdwn(truncate(identity, 80));
}

const n = (value: number) => value.toLocaleString('en-US');

export function windowText(window: { from: string; to: string } | null): string {
  return window ? `${window.from}–${window.to} in each customer's time zone` : 'any time of day';
}

/** "operators 916, 903 · tags vip" with long lists cut (a filter may name 1,000 values). */
export function filterText(operatorCodes: string[], tags: string[]): string {
  const list = (values: string[]) =>
    values.length <= 10
      ? values.map(escapeMrkdwn).join(', ')
      : `${values.slice(0, 10).map(escapeMrkdwn).join(', ')} and ${n(values.length - 10)} more`;
  const parts: string[] = [];
  if (operatorCodes.length) parts.push(`operators ${list(operatorCodes)}`);
  if (tags.length) parts.push(`tags ${list(tags)}`);
  return parts.length ? parts.join(' · ') : 'every customer';
}

/** The mailout's text as a quote: rich text needs no escaping and keeps line breaks. */
function textBlock(text: string, blockId: string): KnownBlock {
  return {
    type: 'rich_text',
    block_id: blockId,
    elements: [{ type: 'rich_text_quote', elements: [{ type: 'text', text: truncate(text, 2000) }] }],
  } as KnownBlock;
}

function button(text: string, actionId: string, value: string, extra: Record<string, unknown> = {}): Button {
  return {
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text: truncate(text, 75) },
    value,
    ...extra,
  };
}

/** The four decision buttons (card and App Home); each carries the version it decides on. */
export function decisionButtons(id: number, version: number, blockId: string): KnownBlock {
  const value = `${id}:${version}`;
  return {
    type: 'actions',
    block_id: blockId,
    elements: [
      button('Approve', ACTIONS.mailoutApprove, value, { style: 'primary' }),
      button('Edit and approve', ACTIONS.mailoutEditApprove, value),
      button('Reject', ACTIONS.mailoutReject, value, { style: 'danger' }),
      button('View audience', ACTIONS.mailoutAudience, value),
    ],
  } as KnownBlock;
}

function controlButtons(d: { id: number; status: MailoutState }, blockId: string): KnownBlock | undefined {
  const value = String(d.id);
  const elements: Button[] = [];
  if (d.status === 'running') elements.push(button('Pause', ACTIONS.mailoutPause, value));
  if (d.status === 'paused')
    elements.push(button('Resume', ACTIONS.mailoutResume, value, { style: 'primary' }));
  if (d.status === 'running' || d.status === 'paused' || d.status === 'scheduled') {
    elements.push(
      button('Cancel', ACTIONS.mailoutCancel, value, {
        style: 'danger',
        confirm: {
          title: { type: 'plain_text', text: 'Cancel this mailout?' },
          text: {
            type: 'plain_text',
            text: 'Messages not sent yet will never be sent. This cannot be undone.',
          },
          confirm: { type: 'plain_text', text: 'Cancel mailout' },
          deny: { type: 'plain_text', text: 'Keep it' },
          style: 'danger',
        },
      }),
    );
  }
  return elements.length ? ({ type: 'actions', block_id: blockId, elements } as KnownBlock) : undefined;
}

/** ▓▓▓▓▓░░░░░ 50% */
export function progressBar(done: number, total: number, width = 20): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  return `${'▓'.repeat(filled)}${'░'.repeat(width - filled)} ${Math.floor(ratio * 100)}%`;
}

function requestFields(d: MailoutCardData): string {
  const lines = [
    `*Requested by:* ${who(d.createdBy)}`,
    `*Schedule:* ${slackDate(d.startsAt)} → ${slackDate(d.endsAt)}`,
    `*Window:* ${windowText(d.window)}`,
    `*Filter:* ${filterText(d.operatorCodes, d.tags)}`,
  ];
  if (d.audience) {
    lines.push(
      `*Audience:* ${n(d.audience.total)} customers (${n(d.audience.inWindowNow)} inside the window now)`,
    );
  }
  return lines.join('\n');
}

function progressLines(d: MailoutCardData): string {
  const c = d.counts ?? {};
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  const sent = c.sent ?? 0;
  const failed = c.failed ?? 0;
  const expired = c.expired ?? 0;
  const cancelled = c.cancelled ?? 0;
  const pending = c.pending ?? 0;
  const done = total - pending;
  const lines = [
    `\`${progressBar(done, total)}\``,
    `*Sent* ${n(sent)} · *Failed* ${n(failed)} · *Expired* ${n(expired)}${cancelled ? ` · *Cancelled* ${n(cancelled)}` : ''} · *Pending* ${n(pending)} of ${n(total)}`,
  ];
  const rate = d.ratePerSecond ?? null;
  if (rate && rate > 0) {
    const line = [`*Rate:* ${rate >= 10 ? n(Math.round(rate)) : rate.toFixed(1)}/s`];
    if (pending > 0 && d.status === 'running') {
      const finish = new Date(d.at.getTime() + (pending / rate) * 1000);
      line.push(
        `*Estimated finish:* ${slackDate(finish.getTime() > d.endsAt.getTime() ? d.endsAt : finish)}${finish.getTime() > d.endsAt.getTime() ? ' (the end: the rest may expire)' : ''}`,
      );
    }
    lines.push(line.join(' · '));
  }
  return lines.join('\n');
}

/**
 * The one persistent message of a mailout: an approval request while it waits (with the decision
 * buttons), then the decision, then a live progress card while it runs, then the final summary.
 */
export function mailoutCard(d: MailoutCardData): { text: string; blocks: KnownBlock[] } {
  const prefix = `mailout:${d.id}`;
  const title =
    d.status === 'pending_approval'
      ? `Approval needed: ${d.name}`
      : `${STATUS_LABEL[d.status][0]?.toUpperCase()}${STATUS_LABEL[d.status].slice(1)}: ${d.name}`;
  const blocks: KnownBlock[] = [header(truncate(title, 150))];
  const live = ['running', 'paused', 'finished', 'expired'].includes(d.status) || d.startedAt !== null;
  if (live && d.counts) {
    blocks.push({
      ...section(`${STATUS_EMOJI[d.status]} *${STATUS_LABEL[d.status]}*\n${progressLines(d)}`),
      block_id: `${prefix}:progress`,
    } as KnownBlock);
  }
  blocks.push({ ...section(requestFields(d)), block_id: `${prefix}:request` } as KnownBlock);
  blocks.push(textBlock(d.text, `${prefix}:text`));
  if (d.status === 'pending_approval') {
    blocks.push(context(`Version ${d.version} · only managers decide, never on their own mailout.`));
    blocks.push(decisionButtons(d.id, d.version, `${prefix}:decide`));
  } else if (d.status === 'rejected') {
    blocks.push(
      section(
        `:x: *Rejected* by ${who(d.rejectedBy)}${d.rejectionReason ? `: ${escapeMrkdwn(truncate(d.rejectionReason, 1000))}` : ''}`,
      ),
    );
  } else if (d.approvedBy) {
    const auto = !/^[UW][A-Z0-9]{2,}$/.test(d.approvedBy) && d.approvedBy.startsWith('auto');
    blocks.push(
      context(
        auto
          ? ':white_check_mark: Approved on creation (the workspace has no mailout manager).'
          : `:white_check_mark: Approved by ${who(d.approvedBy)}${d.approvedAt ? ` at ${slackDate(d.approvedAt)}` : ''} (version ${d.version}).`,
      ),
    );
  }
  if (d.status === 'cancelled')
    blocks.push(context(`:no_entry_sign: Cancelled${d.endedAt ? ` at ${slackDate(d.endedAt)}` : ''}.`));
  const controls = controlButtons(d, `${prefix}:control`);
  if (controls) blocks.push(controls);
  if (live)
    blocks.push(
      context(
        `Updated ${slackDate(d.at, '{date_short_pretty} {time_secs}')} · \`/mailouts ${d.id}\` for statistics`,
      ),
    );
  const counts = d.counts ?? {};
  const text =
    d.status === 'pending_approval'
      ? `Mailout "${truncate(d.name, 200)}" needs approval`
      : `Mailout "${truncate(d.name, 200)}" is ${STATUS_LABEL[d.status]}${d.counts ? `: ${n(counts.sent ?? 0)} sent` : ''}`;
  return { text, blocks };
}

/** The creator's DM when a manager decided. */
export function decisionDm(d: MailoutCardData): { text: string; blocks: KnownBlock[] } {
  const approved = d.status !== 'rejected';
  const text = approved
    ? `Your mailout "${truncate(d.name, 200)}" was approved by ${who(d.approvedBy)}`
    : `Your mailout "${truncate(d.name, 200)}" was rejected by ${who(d.rejectedBy)}`;
  const detail = approved
    ? `It starts ${slackDate(d.startsAt)}.`
    : d.rejectionReason
      ? `Reason: ${escapeMrkdwn(truncate(d.rejectionReason, 1000))}\nChange it with \`/mailouts ${d.id}\` → *Edit*; it goes back for approval.`
      : `Change it with \`/mailouts ${d.id}\` → *Edit*; it goes back for approval.`;
  return { text, blocks: [section(`${approved ? ':white_check_mark:' : ':x:'} ${text}. ${detail}`)] };
}

/** The threaded reply under a finished card: the most frequent error reasons. */
export function errorsReply(d: { id: number; errors: { reason: string; count: number }[] }) {
  if (d.errors.length === 0)
    return { text: 'No errors.', blocks: [section(':white_check_mark: No send errors.')] };
  const lines = d.errors
    .slice(0, 5)
    .map((e) => `• ${n(e.count)} × \`${escapeMrkdwn(truncate(e.reason.replace(/`/g, "'"), 300))}\``);
  return {
    text: `Top error reasons of mailout ${d.id}`,
    blocks: [section(`*Top error reasons*\n${lines.join('\n')}`)],
  };
}

/** A send API outage or recovery, as a reply under each running mailout's card. */
export function outageReply(data: { to: 'open' | 'closed'; reason: string }) {
  const text =
    data.to === 'open'
      ? `Send API is failing: sending is paused until it recovers (${truncate(data.reason, 200)})`
      : 'Send API recovered: sending resumed';
  return {
    text,
    blocks: [
      section(`${data.to === 'open' ? ':red_circle:' : ':large_green_circle:'} ${escapeMrkdwn(text)}`),
    ],
  };
}

export interface MailoutListItem {
  id: number;
  name: string;
  status: MailoutState;
  startsAt: Date;
  endsAt: Date;
  sent: number;
  total: number;
  /** Audience size before fan-out (no messages yet). */
  audience?: number;
}

function listLine(m: MailoutListItem): string {
  const progress =
    m.total > 0
      ? `${n(m.sent)}/${n(m.total)} sent`
      : m.audience !== undefined
        ? `${n(m.audience)} customers`
        : 'not started';
  return `${STATUS_EMOJI[m.status]} *${escapeMrkdwn(truncate(m.name, 200))}* (#${m.id}) · ${STATUS_LABEL[m.status]}\n${slackDate(m.startsAt)} → ${slackDate(m.endsAt)} · ${progress}`;
}

/** `/mailouts`: recent mailouts, each with Open. */
export function mailoutsListMessage(items: MailoutListItem[]): { text: string; blocks: KnownBlock[] } {
  const blocks: KnownBlock[] = [
    header('Mailouts'),
    {
      type: 'actions',
      block_id: 'mailouts_new',
      elements: [button('New mailout', ACTIONS.mailoutNew, 'new', { style: 'primary' })],
    } as KnownBlock,
  ];
  if (items.length === 0)
    blocks.push(section('No mailouts yet. Press *New mailout* or type `/mailouts new`.'));
  for (const m of items.slice(0, 20)) {
    blocks.push({
      type: 'section',
      block_id: `mailout:${m.id}`,
      text: { type: 'mrkdwn', text: truncate(listLine(m), 3000) },
      accessory: button('Open', ACTIONS.mailoutOpen, String(m.id)),
    } as KnownBlock);
  }
  blocks.push(context('`/mailouts <id>` shows one with its statistics · `/mailouts help`'));
  return { text: items.length ? `${items.length} mailouts` : 'No mailouts yet', blocks };
}

export interface MailoutStatsData {
  total: number;
  counts: Record<string, number>;
  byOperator: Record<string, Record<string, number>>;
  errors: { reason: string; count: number }[];
  throughput: number | null;
  firstSentAt: string | null;
  lastSentAt: string | null;
}

/** `/mailouts <id>`: the card's content plus statistics, with Edit for mailouts not started yet. */
export function mailoutDetailMessage(d: MailoutCardData, stats: MailoutStatsData) {
  const card = mailoutCard({
    ...d,
    counts: d.counts ?? stats.counts,
    ratePerSecond: d.ratePerSecond ?? stats.throughput,
  });
  const blocks = card.blocks.filter(
    (b) => (b as { block_id?: string }).block_id !== `mailout:${d.id}:decide`,
  );
  const operators = Object.entries(stats.byOperator)
    .map(([code, c]) => ({ code, total: Object.values(c).reduce((a, b) => a + b, 0), sent: c.sent ?? 0 }))
    .sort((a, b) => b.total - a.total);
  if (stats.total > 0) {
    const lines = operators
      .slice(0, 8)
      .map((o) => `• ${escapeMrkdwn(o.code)}: ${n(o.sent)}/${n(o.total)} sent`);
    if (operators.length > 8) lines.push(`• and ${n(operators.length - 8)} more operators`);
    blocks.push(section(`*By operator*\n${lines.join('\n')}`));
    if (stats.errors.length) blocks.push(...errorsReply({ id: d.id, errors: stats.errors }).blocks);
  }
  const buttons: Button[] = [button('View audience', ACTIONS.mailoutAudience, `${d.id}:${d.version}`)];
  if (['draft', 'pending_approval', 'scheduled', 'rejected'].includes(d.status)) {
    buttons.unshift(button('Edit', ACTIONS.mailoutEdit, `${d.id}:${d.version}`));
  }
  blocks.push({ type: 'actions', block_id: `mailout:${d.id}:detail`, elements: buttons } as KnownBlock);
  return { text: card.text, blocks: blocks.slice(0, 50) };
}

export interface AudienceData {
  name: string;
  total: number;
  inWindowNow: number;
  byZone: { time_zone: string; count: number; in_window_now: boolean }[];
  byOperator: { operator_code: string; count: number }[];
  sample: { phone: string; operator_code: string; tag: string | null; time_zone: string }[];
}

/** Phones shown masked: enough to recognise a number, not to copy a list. */
export function maskPhone(phone: string): string {
  return phone.length > 6 ? `${phone.slice(0, 4)}•••${phone.slice(-3)}` : '•••';
}

function cutList(lines: string[], max: number, what: string): string {
  const shown = lines.slice(0, max);
  if (lines.length > max) shown.push(`_and ${n(lines.length - max)} more ${what}_`);
  return truncate(shown.join('\n'), 3000);
}

export function audienceLoadingView(): ModalView {
  return {
    type: 'modal',
    callback_id: CALLBACKS.mailoutAudience,
    title: plain('Audience', 24),
    close: plain('Close', 24),
    blocks: [section(':hourglass_flowing_sand: Counting customers…')],
  };
}

/** "View audience": a sample and the breakdown by zone and operator (lists cut to stay within limits). */
export function audienceView(d: AudienceData): ModalView {
  const zones = d.byZone.map(
    (z) => `• ${escapeMrkdwn(z.time_zone)}: ${n(z.count)}${z.in_window_now ? ' · in window now' : ''}`,
  );
  const operators = d.byOperator.map((o) => `• ${escapeMrkdwn(o.operator_code)}: ${n(o.count)}`);
  const sample = d.sample.map(
    (c) =>
      `• ${maskPhone(c.phone)} · ${escapeMrkdwn(c.operator_code)} · ${c.tag ? escapeMrkdwn(truncate(c.tag, 60)) : '_no tag_'} · ${escapeMrkdwn(c.time_zone)}`,
  );
  return {
    type: 'modal',
    callback_id: CALLBACKS.mailoutAudience,
    title: plain('Audience', 24),
    close: plain('Close', 24),
    blocks: [
      header(truncate(d.name, 150)),
      section(`*${n(d.total)} customers*, ${n(d.inWindowNow)} inside the sending window right now.`),
      section(`*By time zone*\n${zones.length ? cutList(zones, 40, 'zones') : '_none_'}`),
      section(`*By operator*\n${operators.length ? cutList(operators, 40, 'operators') : '_none_'}`),
      section(`*Sample*\n${sample.length ? cutList(sample, 10, 'customers') : '_nobody matches_'}`),
    ],
  };
}

export interface HomeMailouts {
  /** Pending mailouts the viewer (a manager) may decide on. */
  waiting: MailoutCardData[];
  /** The viewer's own mailouts, newest first. */
  mine: MailoutListItem[];
}

/** App Home: "Waiting for your approval" (top, managers) and "Your mailouts" (everyone). */
export function homeMailoutBlocks(d: HomeMailouts): { top: KnownBlock[]; bottom: KnownBlock[] } {
  const top: KnownBlock[] = [];
  if (d.waiting.length) {
    top.push(header('Waiting for your approval'));
    for (const m of d.waiting.slice(0, 5)) {
      top.push({
        ...section(
          `*${escapeMrkdwn(truncate(m.name, 200))}* (#${m.id}) by ${who(m.createdBy)}\n${slackDate(m.startsAt)} → ${slackDate(m.endsAt)} · ${filterText(m.operatorCodes, m.tags)}`,
        ),
        block_id: `home:mailout:${m.id}`,
      } as KnownBlock);
      top.push(decisionButtons(m.id, m.version, `home:mailout:${m.id}:decide`));
    }
    if (d.waiting.length > 5) top.push(context(`and ${d.waiting.length - 5} more: \`/mailouts\``));
    top.push({ type: 'divider' });
  }
  const bottom: KnownBlock[] = [{ type: 'divider' }, header('Your mailouts')];
  if (d.mine.length === 0) bottom.push(section('None yet: `/mailouts new` drafts one.'));
  for (const m of d.mine.slice(0, 10)) bottom.push(section(listLine(m)));
  return { top, bottom };
}
