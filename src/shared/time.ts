import { DateTime, IANAZone } from 'luxon';

/** A clock is injected into services so tests can move time; production uses the system clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function isValidTimeZone(zone: string): boolean {
  // IANAZone.isValidZone also accepts fixed offsets like "UTC+3"; we want real IANA names (or UTC).
  return zone === 'UTC' || (/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)+$/.test(zone) && IANAZone.isValidZone(zone));
}

export const LOCAL_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The instant at which local wall-clock `hhmm` happens on `localDate` in `zone` (DST gaps move forward). */
export function localTimeToInstant(localDate: string, hhmm: string, zone: string): Date {
  const [hour, minute] = hhmm.split(':').map(Number);
  return DateTime.fromISO(localDate, { zone }).set({ hour, minute, second: 0, millisecond: 0 }).toJSDate();
}
