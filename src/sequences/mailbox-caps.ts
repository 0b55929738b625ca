import type { Redis } from 'ioredis';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { localDay } from './sending-window.ts';

export interface MailboxLimits {
  dailyLimit: number;
  warmupStartLimit: number | null;
  warmupDailyIncrease: number | null;
  warmupStartedAt: Date | null;
}

/**
 * The cap of the mailbox's day that holds `at` in `zone` (the sequence's time zone), from the daily
 * limit and the warm-up ramp: day 0 is the local day warm-up started, counted in calendar days.
 */
export function dayCap(m: MailboxLimits, at: Date, zone: string): number {
  if (m.warmupStartLimit == null || m.warmupDailyIncrease == null || !m.warmupStartedAt) return m.dailyLimit;
  const day = (d: Date) => DateTime.fromJSDate(d, { zone }).startOf('day');
  const days = Math.max(0, Math.round(day(at).diff(day(m.warmupStartedAt), 'days').days));
  return Math.min(m.dailyLimit, m.warmupStartLimit + days * m.warmupDailyIncrease);
}

/** Sends still allowed: the smallest of the day's cap (daily limit, warm-up) and the rolling 24 h limit. */
export function remainingCapacity(
  m: MailboxLimits,
  at: Date,
  zone: string,
  sentToday: number,
  sentLast24h: number,
): number {
  return Math.max(0, Math.min(dayCap(m, at, zone) - sentToday, m.dailyLimit - sentLast24h));
}

/** One mailbox day to count a send in: the day of the send in `zone`, capped at `cap`. */
export interface CountedDay {
  zone: string;
  cap: number;
}

// Returns 0 when every counter was incremented, i > 0 when counter i is at its cap, -i when counter i
// is missing (rebuild it first). All or nothing: one script, so no other send slips in between.
const RESERVE = `
for i = 1, #KEYS do
  if not redis.call('GET', KEYS[i]) then return -i end
end
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i])) + 1 > tonumber(ARGV[i]) then return i end
end
for i = 1, #KEYS do redis.call('INCR', KEYS[i]) end
return 0`;

const RELEASE = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECR', KEYS[i]) end
end
return 0`;

/**
 * Per mailbox per local day, the number of sends lives in Redis (atomic increment with the cap);
 * PostgreSQL (sequence_sends) is the truth: a missing counter is rebuilt from it, counting the
 * mailbox's sends inside the same local-day boundaries, before any send.
 *
 * A mailbox's day is the calendar day in the sequence's time zone. A mailbox that sends for
 * sequences in several zones has one day per zone; each counts every send of the mailbox (from any
 * sequence) that falls in it, and a send must fit under the cap of the day that holds it in every
 * one of those zones. With one zone (the usual case) this is simply "N a day in the sequence's zone".
 * Callers hold the mailbox's advisory lock, so a rebuilt count cannot miss a send in flight.
 */
export class MailboxCounters {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  key(mailboxId: string, zone: string, at: Date): string {
    return `${this.prefix}:seq:sent:${mailboxId}:${zone}:${localDay(at, zone).key}`;
  }

  /** Counts one send at `at` in every day; on a full day, says which (its end is when it frees). */
  async reserve(
    client: pg.ClientBase,
    mailboxId: string,
    at: Date,
    days: CountedDay[],
  ): Promise<{ ok: true } | { ok: false; full: { zone: string; start: Date; end: Date } }> {
    const keys = days.map((d) => this.key(mailboxId, d.zone, at));
    for (let attempt = 0; attempt <= days.length; attempt++) {
      const result = Number(await this.redis.eval(RESERVE, keys.length, ...keys, ...days.map((d) => d.cap)));
      if (result === 0) return { ok: true };
      if (result > 0) {
        const zone = (days[result - 1] as CountedDay).zone;
        return { ok: false, full: { zone, ...localDay(at, zone) } };
      }
      const missing = days[-result - 1] as CountedDay;
      const day = localDay(at, missing.zone);
      const count = await sentBetween(client, mailboxId, day.start, day.end);
      await this.redis.set(keys[-result - 1] as string, count, 'EX', 3 * 86_400, 'NX');
    }
    throw new Error(`mailbox ${mailboxId}: day counters kept disappearing`);
  }

  async release(mailboxId: string, at: Date, zones: string[]): Promise<void> {
    const keys = zones.map((zone) => this.key(mailboxId, zone, at));
    await this.redis.eval(RELEASE, keys.length, ...keys);
  }
}

/** The mailbox's sends in [since, until): "sent today" when `since`/`until` are a local day's edges. */
export async function sentBetween(
  client: pg.ClientBase | pg.Pool,
  mailboxId: string,
  since: Date,
  until: Date = new Date(8.64e15),
): Promise<number> {
  const { rows } = await client.query(
    'SELECT count(*)::int AS n FROM sequence_sends WHERE mailbox_id = $1 AND sent_at >= $2 AND sent_at < $3',
    [mailboxId, since, until],
  );
  return rows[0].n;
}
