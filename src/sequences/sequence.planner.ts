import type pg from 'pg';
import { inTransaction } from '../db/client.ts';
import { dayCap, remainingCapacity } from './mailbox-caps.ts';
import {
  localDay,
  nextSendingInstant,
  type SendingHours,
  sendingClosesAt,
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
  sent24h: number;
  /** The mailbox's current day in each zone its sequences use (see MailboxCounters). */
  days: Map<string, DayState>;
  lastPlanned: Date | null;
}

interface DayState {
  zone: string;
  start: Date;
  end: Date;
  sent: number;
  planned: number;
}

interface Candidate {
  id: string;
  mailboxId: string;
  nextSendAt: Date;
  /** The sequence's zone: the mailbox's day is counted in it. */
  sequenceZone: string;
  /** The contact's zone, else the sequence's: the window is wall-clock time there. */
  hours: SendingHours;
}

/** The smallest gap between two planned sends of one mailbox: at most ceil(cap / window minutes) a minute. */
export function minSpacingMs(cap: number, minutes: number): number {
  return 60_000 / Math.max(1, Math.ceil(cap / Math.max(1, minutes)));
}

/**
 * Fits due enrollments into each mailbox's remaining capacity for its day (the local day in the
 * sequence's time zone), oldest first, and gives each a send time spread evenly over what is left of
 * its window before that day ends, with jitter inside its slot. Slots are at least minSpacingMs
 * apart and a send falls in the first half of its slot, so any minute holds at most
 * ceil(cap / window minutes) + 1 sends of a mailbox. Plans already made (including the sender's
 * reschedules to a window opening) count against the day they fall in. One planner at a time
 * (transaction-level advisory lock): concurrent runs wait and then see the rows already planned.
 */
export async function planSends(
  pool: pg.Pool,
  now: Date,
  random: () => number = Math.random,
): Promise<PlannedSend[]> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('briefly:sequence-planner'))`);
    // Due: next_send_at before the end of today in the enrollment's zone (the contact's, else the sequence's).
    const due = await client.query(
      `SELECT e.id, e.mailbox_id, e.next_send_at, coalesce(c.time_zone, s.time_zone) AS zone,
         s.time_zone AS sequence_zone, s.window_from, s.window_to, s.days
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
        sequenceZone: r.sequence_zone,
        hours: { zone: r.zone, window: { from: r.window_from, to: r.window_to }, days: r.days },
      });
      byMailbox.set(r.mailbox_id, list);
    }
    if (!byMailbox.size) return [];
    const mailboxes = await mailboxStates(client, now, byMailbox);
    const planned: PlannedSend[] = [];
    for (const [mailboxId, candidates] of byMailbox) {
      const mailbox = mailboxes.get(mailboxId);
      if (!mailbox) continue;
      planned.push(...planMailbox(mailbox, candidates, now, random));
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

/**
 * Each mailbox's limits and, per zone its sequences use, its current local day with the sends and
 * plans in it (same boundaries as the sender's Redis counters and their rebuild).
 */
async function mailboxStates(
  client: pg.ClientBase,
  now: Date,
  byMailbox: Map<string, Candidate[]>,
): Promise<Map<string, MailboxState>> {
  const ids = [...byMailbox.keys()];
  const zoneRows = await client.query(
    `SELECT DISTINCT sm.mailbox_id, s.time_zone FROM sequence_mailboxes sm JOIN sequences s ON s.id = sm.sequence_id
     WHERE sm.mailbox_id = ANY($1::uuid[])`,
    [ids],
  );
  const pairs = new Set(zoneRows.rows.map((r) => `${r.mailbox_id}|${r.time_zone}`));
  for (const [id, candidates] of byMailbox) for (const c of candidates) pairs.add(`${id}|${c.sequenceZone}`);
  const days = [...pairs].map((pair) => {
    const [mailboxId, zone] = pair.split('|') as [string, string];
    return { mailboxId, zone, ...localDay(now, zone) };
  });
  const counts = await client.query(
    `SELECT p.mailbox_id, p.zone,
       (SELECT count(*)::int FROM sequence_sends s WHERE s.mailbox_id = p.mailbox_id
          AND s.sent_at >= p.day_start AND s.sent_at < p.day_end) AS sent,
       (SELECT count(*)::int FROM sequence_contacts e WHERE e.mailbox_id = p.mailbox_id AND e.status = 'active'
          AND e.planned_at IS NOT NULL AND e.planned_at < p.day_end) AS planned,
       (SELECT max(e.planned_at) FROM sequence_contacts e WHERE e.mailbox_id = p.mailbox_id AND e.status = 'active'
          AND e.planned_at IS NOT NULL AND e.planned_at < p.day_end) AS last_planned
     FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS p(mailbox_id, zone, day_start, day_end)`,
    [days.map((d) => d.mailboxId), days.map((d) => d.zone), days.map((d) => d.start), days.map((d) => d.end)],
  );
  const limits = await client.query(
    `SELECT m.id, m.daily_limit, m.warmup_start_limit, m.warmup_daily_increase, m.warmup_started_at,
       (SELECT count(*)::int FROM sequence_sends s WHERE s.mailbox_id = m.id AND s.sent_at >= $2) AS sent_24h
     FROM mailboxes m WHERE m.id = ANY($1::uuid[]) AND m.status = 'active'`,
    [ids, new Date(now.getTime() - 86_400_000)],
  );
  const states = new Map<string, MailboxState>(
    limits.rows.map((r) => [
      r.id,
      {
        id: r.id,
        dailyLimit: r.daily_limit,
        warmupStartLimit: r.warmup_start_limit,
        warmupDailyIncrease: r.warmup_daily_increase,
        warmupStartedAt: r.warmup_started_at,
        sent24h: r.sent_24h,
        days: new Map(),
        lastPlanned: null,
      },
    ]),
  );
  const dayOf = new Map(days.map((d) => [`${d.mailboxId}|${d.zone}`, d]));
  for (const r of counts.rows) {
    const state = states.get(r.mailbox_id);
    const day = dayOf.get(`${r.mailbox_id}|${r.zone}`);
    if (!state || !day) continue;
    state.days.set(r.zone, {
      zone: r.zone,
      start: day.start,
      end: day.end,
      sent: r.sent,
      planned: r.planned,
    });
    if (r.last_planned && (!state.lastPlanned || r.last_planned > state.lastPlanned))
      state.lastPlanned = r.last_planned;
  }
  return states;
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
  random: () => number,
): PlannedSend[] {
  // What is left today in every zone's day of the mailbox (with one zone: its sequences' day).
  let capacity = Number.POSITIVE_INFINITY;
  for (const day of mailbox.days.values())
    capacity = Math.min(
      capacity,
      remainingCapacity(mailbox, now, day.zone, day.sent, mailbox.sent24h) - day.planned,
    );
  if (!(capacity > 0)) return [];
  // Oldest first: those that can still go before their mailbox day (in the sequence's zone) ends.
  const chosen: { c: Candidate; earliest: Date; closes: Date }[] = [];
  for (const c of candidates) {
    if (chosen.length >= capacity) break;
    const dayEnd = mailbox.days.get(c.sequenceZone)?.end;
    if (!dayEnd) continue;
    const { earliest, closes } = windowFor(c.hours, Math.max(now.getTime(), c.nextSendAt.getTime()));
    if (earliest >= dayEnd) continue;
    chosen.push({ c, earliest, closes: closes < dayEnd ? closes : dayEnd });
  }
  if (!chosen.length) return [];
  const cap = Math.min(...[...mailbox.days.values()].map((d) => dayCap(mailbox, now, d.zone)));
  const longest = Math.max(...chosen.map((x) => windowMinutes(x.c.hours.window)));
  const minSpacing = minSpacingMs(cap, longest);
  const first = Math.min(...chosen.map((x) => x.earliest.getTime()));
  const last = Math.max(...chosen.map((x) => x.closes.getTime()));
  let cursor = Math.max(first, mailbox.lastPlanned ? mailbox.lastPlanned.getTime() + minSpacing : first);
  const spacing = Math.max(minSpacing, (last - cursor) / chosen.length);
  chosen.sort((a, b) => a.earliest.getTime() - b.earliest.getTime());
  const out: PlannedSend[] = [];
  for (const x of chosen) {
    const slot = Math.max(cursor, x.earliest.getTime());
    const at = slot + Math.floor(random() * spacing * 0.5);
    if (at >= x.closes.getTime()) continue;
    out.push({ enrollmentId: x.c.id, mailboxId: mailbox.id, at: new Date(at) });
    cursor = slot + spacing;
  }
  return out;
}
