import { DateTime } from 'luxon';
import type { StatsSection } from './stats.tables.ts';

/** One local calendar day in a zone as the UTC instants it spans (23 or 25 hours on DST days). */
export interface LocalDay {
  localDate: string;
  timeZone: string;
  from: Date;
  to: Date;
}

export function localDay(localDate: string, timeZone: string): LocalDay {
  const start = DateTime.fromISO(localDate, { zone: timeZone }).startOf('day');
  return {
    localDate,
    timeZone,
    from: start.toJSDate(),
    to: start.plus({ days: 1 }).startOf('day').toJSDate(),
  };
}

/** The calendar date `days` before `localDate` (calendar arithmetic, no zone needed). */
export function shiftDate(localDate: string, days: number): string {
  return DateTime.fromISO(localDate, { zone: 'UTC' }).plus({ days }).toISODate() ?? localDate;
}

export interface DeliveryStats {
  /** Messages accepted that day. */
  total: number;
  /** Those messages by their status now. */
  byStatus: Record<string, number>;
  /** Those handed to a provider, by provider. */
  byProvider: Record<string, number>;
  /** Circuit openings (traffic moved off a provider) that day, with when and why. */
  failovers: { provider: string; at: string; reason: string }[];
}

export interface MailoutStats {
  /** Mailouts that were sending at some point of the day and had not ended by its end. */
  running: number;
  /** Mailouts that ended that day (finished, expired or cancelled). */
  finished: number;
  sent: number;
  failed: number;
  expired: number;
}

export interface SequenceLine {
  id: string;
  name: string;
  sent: number;
  replies: number;
  bounces: number;
  unsubscribes: number;
}

export interface SequenceStats {
  sequences: SequenceLine[];
  totals: Omit<SequenceLine, 'id' | 'name'>;
}

export interface AppointmentStats {
  /** Booked that day (whatever happened to them since). */
  booked: number;
  cancelled: number;
  /** Still booked and starting on the day of the report (the day after the one counted). */
  upcomingToday: number;
}

export interface BriefingStats {
  /** Briefings due that day that went out (the email was handed to a provider). */
  sent: number;
  /** Of those, handed over more than LATE_AFTER_MINUTES after the rep's delivery time. */
  late: number;
  skipped: number;
  failed: number;
  /** Enrichment lookups made that day: profiles found (hits) and not found. */
  enrichmentHits: number;
  enrichmentMisses: number;
}

export const LATE_AFTER_MINUTES = 5;

/** The numbers of one local day; only the sections asked for are present. */
export interface StatsReport {
  localDate: string;
  timeZone: string;
  from: string;
  to: string;
  sections: StatsSection[];
  deliveries?: DeliveryStats;
  mailouts?: MailoutStats;
  sequences?: SequenceStats;
  appointments?: AppointmentStats;
  briefings?: BriefingStats;
}

/** Messages by status group per local day: the data of the 14-day chart. */
export interface ChartPoint {
  day: string;
  status: ChartStatus;
  count: number;
}

export const CHART_STATUSES = ['sent', 'failed', 'waiting', 'other'] as const;
export type ChartStatus = (typeof CHART_STATUSES)[number];
export const CHART_DAYS = 14;

/** Which chart group a message status falls in. */
export function chartStatus(status: string): ChartStatus {
  if (['sent', 'delivered', 'opened', 'clicked'].includes(status)) return 'sent';
  if (['failed', 'bounced', 'dropped', 'spam_report'].includes(status)) return 'failed';
  if (['queued', 'sending', 'deferred'].includes(status)) return 'waiting';
  return 'other';
}
