import type { Redis } from 'ioredis';
import type pg from 'pg';
import { utcDay } from './sending-window.ts';

export interface MailboxLimits {
  dailyLimit: number;
  warmupStartLimit: number | null;
  warmupDailyIncrease: number | null;
  warmupStartedAt: Date | null;
}

/** Today's cap from the daily limit and the warm-up ramp (day 0 = the UTC day warm-up started). */
export function dayCap(m: MailboxLimits, at: Date): number {
  if (m.warmupStartLimit == null || m.warmupDailyIncrease == null || !m.warmupStartedAt) return m.dailyLimit;
  const days = Math.max(
    0,
    Math.round((utcDay(at).start.getTime() - utcDay(m.warmupStartedAt).start.getTime()) / 86_400_000),
  );
  return Math.min(m.dailyLimit, m.warmupStartLimit + days * m.warmupDailyIncrease);
}

/** Sends still allowed: the smallest of today's cap (daily limit, warm-up) and the rolling 24 h limit. */
export function remainingCapacity(
  m: MailboxLimits,
  at: Date,
  sentToday: number,
  sentLast24h: number,
): number {
  return Math.max(0, Math.min(dayCap(m, at) - sentToday, m.dailyLimit - sentLast24h));
}

// Returns the new count, -1 when the cap is reached, -2 when the counter is missing (rebuild first).
const RESERVE = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -2 end
if tonumber(cur) + 1 > tonumber(ARGV[1]) then return -1 end
return redis.call('INCR', KEYS[1])`;

/**
 * Per mailbox per UTC day, the number of sends lives in Redis (atomic increment with the cap);
 * PostgreSQL (sequence_sends) is the truth: a missing counter is rebuilt from it before any send.
 * Callers hold the mailbox's advisory lock, so the rebuilt count cannot miss a send in flight.
 */
export class MailboxCounters {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  key(mailboxId: string, at: Date): string {
    return `${this.prefix}:seq:sent:${mailboxId}:${utcDay(at).key}`;
  }

  async reserve(client: pg.ClientBase, mailboxId: string, at: Date, cap: number): Promise<boolean> {
    const key = this.key(mailboxId, at);
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = Number(await this.redis.eval(RESERVE, 1, key, cap));
      if (result >= 0) return true;
      if (result === -1) return false;
      const count = await sentSince(client, mailboxId, utcDay(at).start);
      await this.redis.set(key, count, 'EX', 2 * 86_400, 'NX');
    }
    return false;
  }

  async release(mailboxId: string, at: Date): Promise<void> {
    await this.redis.decr(this.key(mailboxId, at));
  }
}

export async function sentSince(
  client: pg.ClientBase | pg.Pool,
  mailboxId: string,
  since: Date,
): Promise<number> {
  const { rows } = await client.query(
    'SELECT count(*)::int AS n FROM sequence_sends WHERE mailbox_id = $1 AND sent_at >= $2',
    [mailboxId, since],
  );
  return rows[0].n;
}
