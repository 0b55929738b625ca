import { Heading } from '@react-email/heading';
import { render } from '@react-email/render';
import { Section } from '@react-email/section';
import { Text } from '@react-email/text';
import { createElement } from 'react';
import { reportDay, reportLines, reportZone, statsSubject } from '../src/stats/stats-lines.ts';
import type { StatsReport } from '../src/stats/stats-report.ts';
import { Layout } from './_components/layout.tsx';

/** The content id of the chart image the delivery layer attaches inline. */
export const STATS_CHART_CID = 'stats-chart';

export interface StatsEmailProps {
  report: StatsReport;
  /** `cid:stats-chart` when the chart is attached; absent when it could not be drawn. */
  chartSrc?: string;
}

/** The daily stats email: the same numbers as the Slack post, and the 14-day chart inline. */
export default function StatsEmail({ report, chartSrc }: StatsEmailProps) {
  const day = reportDay(report);
  const parts = reportLines(report);
  return (
    <Layout
      preview={`Numbers for ${day}`}
      footer="Sent by Briefly once a day. Recipients and their time are set with /v1/stats-recipients."
    >
      <Heading as="h1" style={{ fontSize: '22px', margin: '0 0 8px' }}>
        Daily stats · {day}
      </Heading>
      <Text style={{ color: '#6b7280', fontSize: '13px', margin: '0 0 16px' }}>
        00:00–24:00 in {reportZone(report)}
      </Text>
      {parts.map((part) => (
        <Section key={part.section} style={{ margin: '0 0 12px' }}>
          <Heading as="h2" style={{ fontSize: '16px', margin: '12px 0 4px' }}>
            {part.title}
          </Heading>
          {part.lines.map((line) => (
            <Text key={line} style={{ fontSize: '14px', lineHeight: '20px', margin: '0' }}>
              {line}
            </Text>
          ))}
        </Section>
      ))}
      {chartSrc ? (
        <img
          src={chartSrc}
          alt="Messages by status per day, last 14 days"
          width="560"
          style={{ display: 'block', maxWidth: '100%', height: 'auto', marginTop: '16px', border: 0 }}
        />
      ) : (
        <Text style={{ color: '#6b7280', fontSize: '13px' }}>The chart could not be drawn today.</Text>
      )}
    </Layout>
  );
}

StatsEmail.PreviewProps = {
  report: {
    localDate: '2026-11-30',
    timeZone: 'Asia/Kolkata',
    from: '2026-11-29T18:30:00.000Z',
    to: '2026-11-30T18:30:00.000Z',
    sections: ['deliveries', 'mailouts', 'sequences', 'appointments', 'briefings'],
    deliveries: {
      total: 1240,
      byStatus: { delivered: 1180, bounced: 12, failed: 3, queued: 45 },
      byProvider: { sendgrid: 1100, smtp: 95 },
      failovers: [{ provider: 'sendgrid', at: '2026-11-30T06:12:00.000Z', reason: 'HTTP 503' }],
    },
    mailouts: { running: 2, finished: 1, sent: 48210, failed: 37, expired: 120 },
    sequences: {
      sequences: [{ id: 's1', name: 'Q4 outbound', sent: 310, replies: 14, bounces: 3, unsubscribes: 2 }],
      totals: { sent: 310, replies: 14, bounces: 3, unsubscribes: 2 },
    },
    appointments: { booked: 9, cancelled: 1, upcomingToday: 6 },
    briefings: { sent: 42, late: 1, skipped: 0, failed: 0, enrichmentHits: 57, enrichmentMisses: 8 },
  },
} satisfies StatsEmailProps;

export async function renderStatsEmail(
  props: StatsEmailProps,
): Promise<{ subject: string; html: string; text: string }> {
  const element = createElement(StatsEmail, props);
  const [html, text] = await Promise.all([render(element), render(element, { plainText: true })]);
  return { subject: statsSubject(props.report), html, text };
}
