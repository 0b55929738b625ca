import type pg from 'pg';
import { inTransaction } from '../db/client.ts';
import { dayCap, remainingCapacity } from './mailbox-caps.ts';
import {
  nextSendingInstant,
  type SendingHours,
  sendingClosesAt,
  utcDay,
  windowMinutes,
} from './sending-window.ts';

export interface PlannedSend {
  enrollmentId: string;
  mailboxId: string;
  at: Date;
}

interface MailboxState {
  id: string;
  dailyLimit: number;
  warmupStartLimit: number | null;
  warmupDailyIncrease: number | null;
  warmupStartedAt: Date | null;
  sentToday: number;
  sent24h: number;
  plannedToday: number;
  lastPlanned: Date | null;
}

interface Candidate {
  id: string;
  mailboxId: string;
  nextSendAt: Date;
  hours: SendingHours;
}

/** The smallest gap between two planned sends of one mailbox: at most ceil(cap / window minutes) a minute. */
export function minSpacingMs(cap: number, minutes: number): number {
  return 60_000 / Math.max(1, Math.ceil(cap / Math.max(1, minutes)));
}

/**
 * Fits due enrollments into each mailbox's remaining capacity for its (UTC) day, oldest first, and
 * gives each a send time spread evenly over what is left of its window, with jitter inside its slot.
 * Slots are at least minSpacingMs apart and a send falls in the first half of its slot, so any
 * minute holds at most ceil(cap / window minutes) + 1 sends of a mailbox. One planner at a time
 * (transaction-level advisory lock): concurrent runs wait and then see the rows already planned.
 */
export async function planSends(
  pool: pg.Pool,
  now: Date,
  random: () => number = Math.random,
): Promise<PlannedSend[]> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('briefly:sequence-planner'))`);
    const day = utcDay(now);
    const mailboxRows = await client.query(
      `SELECT m.id, m.daily_limit, m.warmup_start_limit, m.warmup_daily_increase, m.warmup_started_at,
         (SELECT count(*)::int FROM sequence_sends s WHERE s.mailbox_id = m.id AND s.sent_at >= $1) AS sent_today,
         (SELECT count(*)::int FROM sequence_sends s WHERE s.mailbox_id = m.id AND s.sent_at >= $2) AS sent_24h,
         (SELECT count(*)::int FROM sequence_contacts e WHERE e.mailbox_id = m.id AND e.status = 'active'
            AND e.planned_at IS NOT NULL AND e.planned_at < $3) AS planned_today,
         (SELECT max(e.planned_at) FROM sequence_contacts e WHERE e.mailbox_id = m.id AND e.status = 'active'
            AND e.planned_at IS NOT NULL AND e.planned_at < $3) AS last_planned
       FROM mailboxes m WHERE m.status = 'active'`,
      [day.start, new Date(now.getTime() - 86_400_000), day.end],
    );
    const mailboxes = new Map<string, MailboxState>(
      mailboxRows.rows.map((r) => [
        r.id,
        {
          id: r.id,
          dailyLimit: r.daily_limit,
          warmupStartLimit: r.warmup_start_limit,
          warmupDailyIncrease: r.warmup_daily_increase,
          warmupStartedAt: r.warmup_started_at,
          sentToday: r.sent_today,
          sent24h: r.sent_24h,
          plannedToday: r.planned_today,
          lastPlanned: r.last_planned,
        },
      ]),
    );
    // Due: next_send_at before the end of today in the enrollment's zone (the contact's, else the sequence's).
    const due = await client.query(
      `SELECT e.id, e.mailbox_id, e.next_send_at, coalesce(c.time_zone, s.time_zone) AS zone,
         s.window_from, s.window_to, s.days
       FROM sequence_contacts e
         JOIN sequences s ON s.id = e.sequence_id AND s.status = 'active'
         JOIN contacts c ON c.id = e.contact_id
         JOIN mailboxes m ON m.id = e.mailbox_id AND m.status = 'active'
       WHERE e.status = 'active' AND e.planned_at IS NULL AND e.next_send_at IS NOT NULL
         AND e.next_send_at < (date_trunc('day', $1::timestamptz AT TIME ZONE coalesce(c.time_zone, s.time_zone))
               + interval '1 day') AT TIME ZONE coalesce(c.time_zone, s.time_zone)
       ORDER BY e.next_send_at, e.id`,
      [now],
    );
    const byMailbox = new Map<string, Candidate[]>();
    for (const r of due.rows) {
      const list = byMailbox.get(r.mailbox_id) ?? [];
      list.push({
        id: r.id,
        mailboxId: r.mailbox_id,
        nextSendAt: r.next_send_at,
        hours: { zone: r.zone, window: { from: r.window_from, to: r.window_to }, days: r.days },
      });
      byMailbox.set(r.mailbox_id, list);
    }
    const planned: PlannedSend[] = [];
    for (const [mailboxId, candidates] of byMailbox) {
      const mailbox = mailboxes.get(mailboxId);
      if (!mailbox) continue;
      planned.push(...planMailbox(mailbox, candidates, now, day.end, random));
    }
    if (planned.length) {
      await client.query(
        `UPDATE sequence_contacts e SET planned_at = p.at, updated_at = now()
         FROM unnest($1::uuid[], $2::timestamptz[]) AS p(id, at) WHERE e.id = p.id`,
        [planned.map((p) => p.enrollmentId), planned.map((p) => p.at)],
      );
    }
    return planned;
  });
}

// Most due enrollments share a zone, a window and "now": their window is computed once per run.
const windows = new Map<string, { earliest: Date; closes: Date }>();
function windowFor(hours: SendingHours, from: number): { earliest: Date; closes: Date } {
  const key = `${hours.zone}|${hours.window.from}|${hours.window.to}|${hours.days.join(',')}|${from}`;
  let found = windows.get(key);
  if (!found) {
    if (windows.size > 10_000) windows.clear();
    const earliest = nextSendingInstant(new Date(from), hours);
    found = { earliest, closes: sendingClosesAt(earliest, hours) };
    windows.set(key, found);
  }
  return found;
}

function planMailbox(
  mailbox: MailboxState,
  candidates: Candidate[],
  now: Date,
  dayEnd: Date,
  random: () => number,
): PlannedSend[] {
  const capacity = remainingCapacity(mailbox, now, mailbox.sentToday, mailbox.sent24h) - mailbox.plannedToday;
  if (capacity <= 0) return [];
  // Oldest first: those that can still go today, up to the capacity.
  const chosen: { c: Candidate; earliest: Date; closes: Date }[] = [];
  for (const c of candidates) {
    if (chosen.length >= capacity) break;
    const { earliest, closes } = windowFor(c.hours, Math.max(now.getTime(), c.nextSendAt.getTime()));
    if (earliest >= dayEnd) continue;
    chosen.push({ c, earliest, closes });
  }
  if (!chosen.length) return [];
  const cap = dayCap(mailbox, now);
  const longest = Math.max(...chosen.map((x) => windowMinutes(x.c.hours.window)));
  const minSpacing = minSpacingMs(cap, longest);
  const first = Math.min(...chosen.map((x) => x.earliest.getTime()));
  const last = Math.max(...chosen.map((x) => Math.min(x.closes.getTime(), dayEnd.getTime())));
  let cursor = Math.max(first, mailbox.lastPlanned ? mailbox.lastPlanned.getTime() + minSpacing : first);
  const spacing = Math.max(minSpacing, (last - cursor) / chosen.length);
  chosen.sort((a, b) => a.earliest.getTime() - b.earliest.getTime());
  const out: PlannedSend[] = [];
  for (const x of chosen) {
    const slot = Math.max(cursor, x.earliest.getTime());
    const at = slot + Math.floor(random() * spacing * 0.5);
    if (at >= x.closes.getTime() || at >= dayEnd.getTime()) continue;
    out.push({ enrollmentId: x.c.id, mailboxId: mailbox.id, at: new Date(at) });
    cursor = slot + spacing;
  }
  return out;
}
