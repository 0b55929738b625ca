import type { KnownBlock, ModalView } from '@slack/types';
import { context, escapeMrkdwn, header, plain, section, truncate } from './common.ts';
import { ACTIONS, CALLBACKS, INPUT_ACTION, TEST_EMAIL_BLOCKS, TEST_EMAIL_RECIPIENTS } from './ids.ts';

export interface ProviderStateView {
  provider: string;
  state: 'open' | 'closed' | 'half_open';
  since?: Date;
  reason?: string;
}

export interface DeliveriesOverview {
  providers: ProviderStateView[];
  queue: Record<string, number>;
  last24h: Record<string, number>;
  swaps: { provider: string; state: string; reason: string; actor: string; at: Date }[];
}

const STATUS_ORDER = [
  'queued',
  'sending',
  'deferred',
  'sent',
  'delivered',
  'opened',
  'clicked',
  'bounced',
  'dropped',
  'spam_report',
  'unsubscribed',
  'failed',
  'cancelled',
  'suppressed',
];

const time = (at: Date) =>
  `<!date^${Math.floor(at.getTime() / 1000)}^{date_short_pretty} {time}|${at.toISOString()}>`;

/**
 * `/briefly deliveries`: provider circuits, queue depth, the last 24 h by status, recent swaps;
 * admins also get "Send test email".
 */
export function deliveriesMessage(
  data: DeliveriesOverview,
  options: { canSendTest?: boolean } = {},
): { text: string; blocks: KnownBlock[] } {
  const active = data.providers.find((p) => p.state === 'closed')?.provider;
  const providerLines = data.providers.map((p, index) => {
    const role = index === 0 ? 'primary' : 'backup';
    if (p.state === 'closed') {
      return `:large_green_circle: *${p.provider}* (${role})${p.provider === active ? ': sending' : ': standing by'}`;
    }
    const since = p.since ? ` since ${time(p.since)}` : '';
    if (p.state === 'half_open') {
      return `:large_yellow_circle: *${p.provider}* (${role}): half-open, trial messages only${since}`;
    }
    return `:red_circle: *${p.provider}* (${role}): circuit open${since}${p.reason ? `: ${escapeMrkdwn(truncate(p.reason, 200))}` : ''}`;
  });
  const queueLine = ['waiting', 'prioritized', 'active', 'delayed', 'failed']
    .map((state) => `${state} ${data.queue[state] ?? 0}`)
    .join(' · ');
  const counts = STATUS_ORDER.filter((s) => (data.last24h[s] ?? 0) > 0).map(
    (s) => `${s} *${data.last24h[s]}*`,
  );
  const blocks: KnownBlock[] = [
    header('Deliveries'),
    section(providerLines.join('\n') || 'No email provider configured.'),
    section(`*Queue* ${queueLine}`),
    section(`*Last 24 hours* ${counts.length ? counts.join(' · ') : 'no messages'}`),
  ];
  if (data.swaps.length > 0) {
    blocks.push(
      context(
        data.swaps
          .slice(0, 5)
          .map(
            (s) =>
              `${time(s.at)} ${s.provider} ${s.state === 'open' ? 'swapped out' : 'restored'} by ${escapeMrkdwn(s.actor)}: ${escapeMrkdwn(truncate(s.reason, 120))}`,
          )
          .join('\n'),
      ),
    );
  }
  if (options.canSendTest) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.testEmailOpen,
          text: plain('Send test email'),
          value: 'open',
        },
      ],
    });
  }
  const text = `Deliveries: ${active ? `sending via ${active}` : 'every provider circuit is open'}`;
  return { text, blocks };
}

/** The "Send test email" modal: to me or to an address, optional subject. */
export function testEmailView(privateMetadata: string, defaultSubject: string): ModalView {
  return {
    type: 'modal',
    callback_id: CALLBACKS.sendTestEmail,
    private_metadata: privateMetadata,
    title: plain('Send test email', 24),
    submit: plain('Send', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'input',
        block_id: TEST_EMAIL_BLOCKS.recipient,
        label: plain('Send to', 2000),
        element: {
          type: 'radio_buttons',
          action_id: INPUT_ACTION,
          initial_option: { text: plain('Me'), value: TEST_EMAIL_RECIPIENTS.me },
          options: [
            { text: plain('Me'), value: TEST_EMAIL_RECIPIENTS.me },
            { text: plain('Another address'), value: TEST_EMAIL_RECIPIENTS.address },
          ],
        },
      },
      {
        type: 'input',
        block_id: TEST_EMAIL_BLOCKS.address,
        optional: true,
        label: plain('Address', 2000),
        hint: plain('Only with "Another address".', 2000),
        element: {
          type: 'email_text_input',
          action_id: INPUT_ACTION,
          placeholder: plain('ana@example.com', 150),
        },
      },
      {
        type: 'input',
        block_id: TEST_EMAIL_BLOCKS.subject,
        optional: true,
        label: plain('Subject', 2000),
        element: {
          type: 'plain_text_input',
          action_id: INPUT_ACTION,
          max_length: 200,
          placeholder: plain(defaultSubject, 150),
        },
      },
    ],
  };
}

export interface TestEmailStatusView {
  id: string;
  status: string;
  to: { email: string }[];
  provider: string | null;
  last_error: string | null;
  message_id_header: string | null;
  events: { type: string; at: string; provider: string | null; detail: Record<string, unknown> }[];
}

const STATUS_ICON: Record<string, string> = {
  sent: ':outbox_tray:',
  delivered: ':white_check_mark:',
  opened: ':white_check_mark:',
  clicked: ':white_check_mark:',
  failed: ':x:',
  bounced: ':x:',
  dropped: ':x:',
  suppressed: ':no_entry:',
  deferred: ':hourglass:',
};

/** The test email's card, replaced in place as its status moves; "Refresh status" reloads it. */
export function testEmailStatusMessage(m: TestEmailStatusView): { text: string; blocks: KnownBlock[] } {
  const to = m.to.map((a) => a.email).join(', ');
  const icon = STATUS_ICON[m.status] ?? ':email:';
  const lines = m.events.slice(-8).map((e) => {
    const reason =
      typeof e.detail.reason === 'string' ? `: ${escapeMrkdwn(truncate(e.detail.reason, 150))}` : '';
    return `${time(new Date(e.at))} *${e.type}*${e.provider ? ` via ${e.provider}` : ''}${reason}`;
  });
  const error =
    m.last_error && ['deferred', 'failed'].includes(m.status)
      ? `\n${escapeMrkdwn(truncate(m.last_error, 300))}`
      : '';
  return {
    text: `Test email to ${to}: ${m.status}`,
    blocks: [
      section(
        `${icon} Test email to *${escapeMrkdwn(truncate(to, 300))}*: *${m.status}*${m.provider ? ` via ${m.provider}` : ''}${error}`,
      ),
      section(lines.join('\n') || 'No events yet.'),
      context(
        `Message \`${m.id}\`${m.message_id_header ? ` · Message-ID \`${escapeMrkdwn(truncate(m.message_id_header, 300))}\`` : ''}`,
      ),
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: ACTIONS.testEmailRefresh,
            text: plain('Refresh status'),
            value: m.id,
          },
        ],
      },
    ],
  };
}

export interface MessageTrailView {
  id: string;
  status: string;
  subject: string;
  to: { email: string }[];
  provider: string | null;
  created_at: string;
  message_id_header?: string | null;
  events: { type: string; at: string; provider: string | null; detail: Record<string, unknown> }[];
}

/** `/briefly message <id>`: one message and its ordered event trail (last 40 events). */
export function messageTrailMessage(m: MessageTrailView): { text: string; blocks: KnownBlock[] } {
  const recipients = m.to.map((a) => a.email).join(', ');
  const lines = m.events.slice(-40).map((e) => {
    const reason =
      typeof e.detail.reason === 'string' ? `: ${escapeMrkdwn(truncate(e.detail.reason, 150))}` : '';
    return `${time(new Date(e.at))} *${e.type}*${e.provider ? ` via ${e.provider}` : ''}${reason}`;
  });
  return {
    text: `Message ${m.id}: ${m.status}`,
    blocks: [
      header(`Message: ${m.status}`),
      section(
        `*${escapeMrkdwn(truncate(m.subject, 200))}*\nTo ${escapeMrkdwn(truncate(recipients, 500))}${m.provider ? `\nProvider ${m.provider}` : ''}`,
      ),
      section(lines.join('\n') || 'No events yet.'),
      context(
        `\`${m.id}\`${m.message_id_header ? ` · Message-ID \`${escapeMrkdwn(truncate(m.message_id_header, 300))}\`` : ''}`,
      ),
    ],
  };
}
