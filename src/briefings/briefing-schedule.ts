import { DateTime } from 'luxon';
import { localTimeToInstant } from '../shared/time.ts';

export interface BriefingTimes {
  localDate: string;
  prepareAt: Date;
  /** When the second, last-minute sync runs and the email is rendered and handed to delivery. */
  refreshAt: Date;
  deliverAt: Date;
  /** Past this a late briefing is skipped instead of sent. */
  cutoffAt: Date;
}

/** The rep's calendar date at `now` in their zone. */
export function localDateAt(now: Date, zone: string): string {
  return DateTime.fromJSDate(now, { zone }).toISODate() ?? '';
}

/**
 * The instants of one rep's briefing on a local date, DST-correct: wall-clock times are turned
 * into instants on that date in that zone (a time inside a spring-forward gap moves forward by
 * the gap; an ambiguous autumn time takes the first occurrence). A preparation time configured
 * after the delivery time is pulled back to the refresh time, so a briefing is never prepared
 * after it was due.
 */
export function briefingTimes(
  rep: { timeZone: string; prepTime: string; briefingTime: string },
  localDate: string,
  options: { refreshMinutes: number; cutoff: string },
): BriefingTimes {
  const deliverAt = localTimeToInstant(localDate, rep.briefingTime, rep.timeZone);
  const refreshAt = new Date(deliverAt.getTime() - options.refreshMinutes * 60_000);
  const prepared = localTimeToInstant(localDate, rep.prepTime, rep.timeZone);
  const prepareAt = prepared.getTime() > refreshAt.getTime() ? refreshAt : prepared;
  let cutoffAt = localTimeToInstant(localDate, options.cutoff, rep.timeZone);
  // A rep whose briefing time is after the general cutoff still gets a window of two hours.
  if (cutoffAt.getTime() <= deliverAt.getTime()) cutoffAt = new Date(deliverAt.getTime() + 2 * 3_600_000);
  return { localDate, prepareAt, refreshAt, deliverAt, cutoffAt };
}
