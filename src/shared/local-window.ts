import { DateTime } from 'luxon';

/**
 * A daily local sending window in a person's own IANA zone: [from, to) in wall-clock "HH:MM".
 * `to` earlier than `from` crosses midnight (22:00-06:00 is open late evening and early morning).
 * Used by mailouts, sequences and stats; written once here.
 *
 * DST: the window is wall-clock, so it follows the zone's clock. When an edge falls into a
 * spring-forward gap (02:30 on 2026-03-08 in New York does not exist) the edge is the first
 * instant whose local time is past it (03:00 EDT). When an edge falls into a fall-back repeat
 * (01:30 happens twice on 2026-11-01) the first occurrence counts, as luxon resolves it.
 */
export interface LocalWindow {
  from: string;
  to: string;
}

const minutesOf = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

/** Whether the local wall-clock time of `at` in `zone` is inside the window (no window = always). */
export function isInsideWindow(at: Date, zone: string, window?: LocalWindow | null): boolean {
  if (!window) return true;
  const local = DateTime.fromJSDate(at, { zone });
  const now = local.hour * 60 + local.minute + local.second / 60 + local.millisecond / 60_000;
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  if (from === to) return true;
  return from < to ? now >= from && now < to : now >= from || now < to;
}

/**
 * The instant at which wall-clock `hhmm` happens on the local date of `day` in `zone`. In a DST gap
 * it is the first instant that satisfies `edgeReached` (scanned minute by minute over the gap).
 */
function edgeOn(day: DateTime, hhmm: string, zone: string, edgeReached: (at: Date) => boolean): Date {
  const [hour, minute] = hhmm.split(':').map(Number);
  const nominal = day.setZone(zone).set({ hour, minute, second: 0, millisecond: 0 });
  if (nominal.hour === hour && nominal.minute === minute) return nominal.toJSDate();
  // luxon moved the non-existent time forward by the gap; the edge is where the gap ends.
  for (let back = 60; back >= 0; back--) {
    const candidate = nominal.minus({ minutes: back }).toJSDate();
    if (edgeReached(candidate)) return candidate;
  }
  return nominal.toJSDate();
}

/** Candidate local days around `at` (yesterday to three days ahead), in the zone. */
function daysAround(at: Date, zone: string): DateTime[] {
  const today = DateTime.fromJSDate(at, { zone }).startOf('day');
  return [-1, 0, 1, 2, 3].map((d) => today.plus({ days: d }));
}

/** The next instant strictly after `at` at which the window opens in `zone`. */
export function nextWindowOpening(at: Date, zone: string, window: LocalWindow): Date {
  const candidates = daysAround(at, zone)
    .map((day) => edgeOn(day, window.from, zone, (t) => isInsideWindow(t, zone, window)))
    .filter((t) => t.getTime() > at.getTime())
    .sort((a, b) => a.getTime() - b.getTime());
  const first = candidates[0];
  if (!first) throw new Error(`no window opening found after ${at.toISOString()} in ${zone}`);
  return first;
}

/**
 * When the window that is open at `at` closes (the first instant after `at` outside it); undefined
 * when there is no window (always open).
 */
export function windowClosesAt(at: Date, zone: string, window?: LocalWindow | null): Date | undefined {
  if (!window || minutesOf(window.from) === minutesOf(window.to)) return undefined;
  const candidates = daysAround(at, zone)
    .map((day) => edgeOn(day, window.to, zone, (t) => !isInsideWindow(t, zone, window)))
    .filter((t) => t.getTime() > at.getTime())
    .sort((a, b) => a.getTime() - b.getTime());
  return candidates[0];
}

/**
 * The first instant at or after `at` when sending is allowed in `zone` (inside the window), or
 * undefined when that is not before `until` (e.g. a mailout's ends_at).
 */
export function nextAllowedInstant(
  at: Date,
  zone: string,
  window?: LocalWindow | null,
  until?: Date,
): Date | undefined {
  const allowed = isInsideWindow(at, zone, window) ? at : nextWindowOpening(at, zone, window as LocalWindow);
  if (until && allowed.getTime() >= until.getTime()) return undefined;
  return allowed;
}
