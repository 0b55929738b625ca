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
  let candidate = at;
  for (let i = 0; i < 16; i++) {
    if (isSendingTime(candidate, hours)) return candidate;
    candidate = nextWindowOpening(candidate, hours.zone, hours.window);
  }
  throw new Error(`no sending time within two weeks after ${at.toISOString()} in ${hours.zone}`);
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

/** Start and end of the UTC day of `at`: a mailbox's caps are counted per UTC day. */
export function utcDay(at: Date): { start: Date; end: Date; key: string } {
  const start = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  return { start, end: new Date(start.getTime() + 86_400_000), key: start.toISOString().slice(0, 10) };
}
