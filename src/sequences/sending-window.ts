import { DateTime } from 'luxon';
import {
  isInsideWindow,
  type LocalWindow,
  nextWindowOpening,
  windowClosesAt,
} from '../shared/local-window.ts';

/** A sequence's sending hours: a daily wall-clock window on some ISO weekdays, in one zone. */
export interface SendingHours {
  window: LocalWindow;
  /** ISO weekdays 1 (Monday) to 7; the weekday is the one on which the window opened. */
  days: readonly number[];
  zone: string;
}

/** The local weekday of the window that is open at `at` (a window past midnight belongs to the day it opened). */
function openingWeekday(at: Date, hours: SendingHours): number {
  const local = DateTime.fromJSDate(at, { zone: hours.zone });
  const [fh, fm] = hours.window.from.split(':').map(Number);
  const minutes = local.hour * 60 + local.minute;
  const opensAt = (fh ?? 0) * 60 + (fm ?? 0);
  return minutes < opensAt ? local.minus({ days: 1 }).weekday : local.weekday;
}

export function isSendingTime(at: Date, hours: SendingHours): boolean {
  return isInsideWindow(at, hours.zone, hours.window) && hours.days.includes(openingWeekday(at, hours));
}

/** The first instant at or after `at` inside the window on an allowed weekday. */
export function nextSendingInstant(at: Date, hours: SendingHours): Date {
  if (isSendingTime(at, hours)) return at;
  return nextOpening(at, hours);
}

/**
 * The first window opening strictly after `at` on one of the allowed weekdays, in the zone (the
 * contact's, else the sequence's). Exact and DST-safe: the edges come from shared/local-window (an
 * opening in a spring-forward gap is where the gap ends), never `at` + 24 h.
 */
export function nextOpening(at: Date, hours: SendingHours): Date {
  let candidate = at;
  for (let i = 0; i < 16; i++) {
    candidate = nextWindowOpening(candidate, hours.zone, hours.window);
    if (hours.days.includes(openingWeekday(candidate, hours))) return candidate;
  }
  throw new Error(`no window opening within two weeks after ${at.toISOString()} in ${hours.zone}`);
}

/** When the window open at `at` closes. */
export function sendingClosesAt(at: Date, hours: SendingHours): Date {
  return windowClosesAt(at, hours.zone, hours.window) ?? new Date(at.getTime() + 86_400_000);
}

/** Length of the daily window in minutes (a window past midnight counts across it). */
export function windowMinutes(window: LocalWindow): number {
  const m = (hhmm: string) => {
    const [h, mm] = hhmm.split(':').map(Number);
    return (h ?? 0) * 60 + (mm ?? 0);
  };
  const d = m(window.to) - m(window.from);
  return d > 0 ? d : d + 1440;
}

/** Start of the local day `days` after the local day of `at`, in `zone` (DST-safe: calendar days). */
export function localDayPlus(at: Date, zone: string, days: number): Date {
  return DateTime.fromJSDate(at, { zone }).startOf('day').plus({ days }).toJSDate();
}

/**
 * A mailbox's day: the calendar day of `at` in `zone`, the sequence's time zone (not the contact's:
 * one mailbox sends to contacts in many zones, and its cap needs one day). 23 or 25 hours long on a
 * DST change day; `key` is the local date (YYYY-MM-DD) that names the Redis counter.
 */
export function localDay(at: Date, zone: string): { start: Date; end: Date; key: string } {
  const start = DateTime.fromJSDate(at, { zone }).startOf('day');
  return {
    start: start.toJSDate(),
    end: start.plus({ days: 1 }).toJSDate(),
    key: start.toISODate() as string,
  };
}
