import type { KnownBlock } from '@slack/types';
import { context, escapeMrkdwn, header, section, truncate } from './common.ts';

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

/** `/briefly deliveries`: provider circuits, queue depth, the last 24 h by status, recent swaps. */
export function deliveriesMessage(data: DeliveriesOverview): { text: string; blocks: KnownBlock[] } {
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
  const text = `Deliveries: ${active ? `sending via ${active}` : 'every provider circuit is open'}`;
  return { text, blocks };
}

export interface MessageTrailView {
  id: string;
  status: string;
  subject: string;
  to: { email: string }[];
  provider: string | null;
  created_at: string;
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
      context(`\`${m.id}\``),
    ],
  };
}
