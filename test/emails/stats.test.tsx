import { describe, expect, it } from 'vitest';
import { statsPostMessage } from '../../blocks/stats.ts';
import StatsEmail, { renderStatsEmail } from '../../emails/stats.tsx';
import { reportLines } from '../../src/stats/stats-lines.ts';
import type { StatsReport } from '../../src/stats/stats-report.ts';

const REPORT = StatsEmail.PreviewProps.report as StatsReport;

describe('daily stats email and post', () => {
  it('when rendering the preview report with the chart, then HTML and text match the snapshots', async () => {
    const { subject, html, text } = await renderStatsEmail({ report: REPORT, chartSrc: 'cid:stats-chart' });
    expect(subject).toBe('Briefly daily stats for Mon 30 Nov 2026');
    await expect(html).toMatchFileSnapshot('./__snapshots__/stats.html');
    await expect(text).toMatchFileSnapshot('./__snapshots__/stats.txt');
    expect(html).toContain('src="cid:stats-chart"');
    expect(html).not.toMatch(/<style|<script|class=/i);
  });

  it('when the chart could not be drawn, then the email says so and has no image', async () => {
    const { html, text } = await renderStatsEmail({ report: REPORT });
    expect(html).not.toContain('<img');
    expect(text).toContain('The chart could not be drawn today.');
  });

  it('when the same report goes to Slack and by email, then both carry the same lines', async () => {
    const { text } = await renderStatsEmail({ report: REPORT, chartSrc: 'cid:stats-chart' });
    const post = JSON.stringify(statsPostMessage(REPORT).blocks);
    for (const part of reportLines(REPORT)) {
      for (const line of part.lines) {
        expect(text).toContain(line);
        expect(post).toContain(line.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
      }
    }
    expect(text).toContain('Failover events: 1 (sendgrid at 11:42: HTTP 503)');
    expect(text).toContain('48,210 sent, 37 failed, 120 expired');
  });

  it('when a report names more than 10 sequences, then the post stays within Block Kit limits and sums the rest', () => {
    const many = {
      ...REPORT,
      sequences: {
        sequences: Array.from({ length: 30 }, (_, i) => ({
          id: `s${i}`,
          name: `Sequence ${i} ${'x'.repeat(200)}`,
          sent: i,
          replies: 0,
          bounces: 0,
          unsubscribes: 0,
        })),
        totals: { sent: 435, replies: 0, bounces: 0, unsubscribes: 0 },
      },
    };
    const { blocks } = statsPostMessage(many);
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const block of blocks) {
      const text = (block as { text?: { text: string } }).text?.text ?? '';
      expect(text.length).toBeLessThanOrEqual(3000);
    }
    expect(JSON.stringify(blocks)).toContain('and 20 more sequences');
  });
});
