import { DateTime } from 'luxon';
import { zoneLabelAt } from '../../emails/_components/briefing-format.ts';
import type { StatsSection } from './stats.tables.ts';
import { LATE_AFTER_MINUTES, type StatsReport } from './stats-report.ts';

/** One section of a report as plain text lines: the Slack post and the email show the same ones. */
export interface StatsSectionLines {
  section: StatsSection;
  title: string;
  lines: string[];
}

export const SECTION_TITLES: Record<StatsSection, string> = {
  deliveries: 'Deliveries',
  mailouts: 'Mailouts',
  sequences: 'Sequences',
  appointments: 'Appointments',
  briefings: 'Briefings',
};

/** At most this many sequences are named; the rest are summed into one line. */
export const MAX_SEQUENCE_LINES = 10;

const number = (n: number) => n.toLocaleString('en-US');

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length ? entries.map(([key, n]) => `${key} ${number(n)}`).join(', ') : 'none';
}

/** "Monday 30 November 2026" */
export function reportDay(report: StatsReport): string {
  return DateTime.fromISO(report.localDate, { zone: report.timeZone }).toFormat('cccc d LLLL yyyy');
}

/** "Asia/Kolkata, IST (UTC+5:30)"; on a DST day the zone at the day's start and end. */
export function reportZone(report: StatsReport): string {
  const start = DateTime.fromISO(report.from, { zone: report.timeZone });
  const end = DateTime.fromISO(report.to, { zone: report.timeZone });
  const a = zoneLabelAt(start);
  const b = zoneLabelAt(end);
  return `${report.timeZone}, ${a === b ? a : `${a} then ${b}`}`;
}

export function statsSubject(report: StatsReport): string {
  return `Briefly daily stats for ${DateTime.fromISO(report.localDate).toFormat('ccc d LLL yyyy')}`;
}

export function reportLines(report: StatsReport): StatsSectionLines[] {
  const out: StatsSectionLines[] = [];
  for (const section of report.sections) {
    const lines: string[] = [];
    if (section === 'deliveries' && report.deliveries) {
      const d = report.deliveries;
      lines.push(`${number(d.total)} messages accepted`);
      lines.push(`By status: ${counts(d.byStatus)}`);
      lines.push(`By provider: ${counts(d.byProvider)}`);
      lines.push(
        d.failovers.length === 0
          ? 'Failover events: none'
          : `Failover events: ${d.failovers.length} (${d.failovers
              .slice(0, 5)
              .map(
                (f) =>
                  `${f.provider} at ${DateTime.fromISO(f.at, { zone: report.timeZone }).toFormat('HH:mm')}: ${f.reason}`,
              )
              .join('; ')}${d.failovers.length > 5 ? '; …' : ''})`,
      );
    }
    if (section === 'mailouts' && report.mailouts) {
      const m = report.mailouts;
      lines.push(`${number(m.running)} running, ${number(m.finished)} finished`);
      lines.push(
        `Messages: ${number(m.sent)} sent, ${number(m.failed)} failed, ${number(m.expired)} expired`,
      );
    }
    if (section === 'sequences' && report.sequences) {
      const s = report.sequences;
      const t = s.totals;
      lines.push(
        `${number(t.sent)} sent, ${number(t.replies)} replies, ${number(t.bounces)} bounces, ${number(t.unsubscribes)} unsubscribes`,
      );
      for (const q of s.sequences.slice(0, MAX_SEQUENCE_LINES)) {
        lines.push(
          `${q.name}: ${number(q.sent)} sent, ${number(q.replies)} replies, ${number(q.bounces)} bounces, ${number(q.unsubscribes)} unsubscribes`,
        );
      }
      if (s.sequences.length > MAX_SEQUENCE_LINES) {
        lines.push(`and ${s.sequences.length - MAX_SEQUENCE_LINES} more sequences`);
      }
    }
    if (section === 'appointments' && report.appointments) {
      const a = report.appointments;
      lines.push(`${number(a.booked)} booked, ${number(a.cancelled)} cancelled`);
      lines.push(`${number(a.upcomingToday)} upcoming today`);
    }
    if (section === 'briefings' && report.briefings) {
      const b = report.briefings;
      lines.push(
        `${number(b.sent)} sent, ${number(b.late)} late (over ${LATE_AFTER_MINUTES} min), ${number(b.skipped)} skipped, ${number(b.failed)} failed`,
      );
      lines.push(`Enrichment: ${number(b.enrichmentHits)} found, ${number(b.enrichmentMisses)} not found`);
    }
    out.push({ section, title: SECTION_TITLES[section], lines });
  }
  return out;
}
