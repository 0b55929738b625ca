import { createHash } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../db/client.ts';
import type { InternalEmail } from '../delivery/delivery.service.ts';
import { type CountedDay, dayCap, type MailboxCounters, sentBetween } from './mailbox-caps.ts';
import {
  isSendingTime,
  localDayPlus,
  nextOpening,
  type SendingHours,
  sendingClosesAt,
  windowMinutes,
} from './sending-window.ts';
import { minSpacingMs } from './sequence.planner.ts';
import { renderBody, renderSubject } from './sequence-template.ts';
import { signUnsubscribe } from './unsubscribe-token.ts';

export const SEQUENCE_KIND = 'sequence';

export type SendOutcome =
  | { status: 'sent'; messageId: string; step: number }
  | { status: 'skipped'; reason: string }
  | { status: 'rescheduled'; at: Date; reason: 'outside_window' | 'over_cap' };

export interface SenderDeps {
  pool: pg.Pool;
  counters: MailboxCounters;
  send: (email: InternalEmail) => Promise<{ id: string; messageIdHeader: string | null }>;
  /** Delayed re-send (the sender's own queue); called after commit. */
  reschedule: (enrollmentId: string, at: Date) => Promise<void>;
  publicUrl: string;
  unsubscribeSecret: string;
}

/** The message id of a step: the same step of the same enrollment is one message, however often retried. */
export function stepMessageId(enrollmentId: string, step: number): string {
  const h = createHash('sha256').update(`sequence:${enrollmentId}:${step}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Sends an enrollment's next step at its planned time, after checking again everything that may have
 * changed since it was planned: status, the window, and the mailbox's cap (Redis counter of the
 * mailbox's local day with the cap, rebuilt from PostgreSQL if lost; rolling 24 h from PostgreSQL).
 *
 * Outside the window or over the cap it does not send: it reschedules the step to the next window
 * opening in the contact's zone (else the sequence's) on one of the sequence's days; over the day's
 * cap, the first opening after that mailbox day ends. `planned_at` and `next_send_at` both become
 * that instant and a delayed job is enqueued for it, so the planner leaves the enrollment alone and
 * counts it in that day's planned sends. Several steps of one mailbox rescheduled to one opening are
 * spaced like the planner's plans (minSpacingMs), so a full day of them does not go out in a burst.
 */
export async function sendStep(
  deps: SenderDeps,
  enrollmentId: string,
  now: Date,
  /** The plan this job was enqueued for: a job of an older plan (replanned since) does nothing. */
  plannedAt?: number,
): Promise<SendOutcome> {
  let after: (() => Promise<void>) | undefined;
  let reserved: { mailboxId: string; zones: string[] } | undefined;
  try {
    const outcome = await inTransaction(deps.pool, async (client): Promise<SendOutcome> => {
      const { rows } = await client.query(
        `SELECT e.*, s.window_from, s.window_to, s.days, s.time_zone AS sequence_zone, s.status AS sequence_status,
           c.email, c.first_name, c.last_name, c.company, c.fields, c.time_zone AS contact_zone,
           m.email AS mailbox_email, m.display_name, m.status AS mailbox_status, m.daily_limit,
           m.warmup_start_limit, m.warmup_daily_increase, m.warmup_started_at
         FROM sequence_contacts e JOIN sequences s ON s.id = e.sequence_id JOIN contacts c ON c.id = e.contact_id
           JOIN mailboxes m ON m.id = e.mailbox_id
         WHERE e.id = $1 FOR UPDATE OF e`,
        [enrollmentId],
      );
      const e = rows[0];
      if (!e) return { status: 'skipped', reason: 'gone' };
      if (e.status !== 'active') return { status: 'skipped', reason: e.status };
      if (e.planned_at == null) return { status: 'skipped', reason: 'not_planned' };
      if (plannedAt !== undefined && e.planned_at.getTime() !== plannedAt)
        return { status: 'skipped', reason: 'replanned' };
      if (e.sequence_status !== 'active' || e.mailbox_status !== 'active') {
        await client.query('UPDATE sequence_contacts SET planned_at = NULL WHERE id = $1', [enrollmentId]);
        return {
          status: 'skipped',
          reason: e.sequence_status !== 'active' ? 'sequence_not_active' : 'mailbox_paused',
        };
      }
      const suppressed = await client.query('SELECT reason FROM suppressions WHERE email = lower($1)', [
        e.email,
      ]);
      if (suppressed.rows[0]) {
        const status = suppressed.rows[0].reason === 'unsubscribed' ? 'unsubscribed' : 'bounced';
        await client.query(
          `UPDATE sequence_contacts SET status = $2, stopped_reason = $3, planned_at = NULL, next_send_at = NULL,
             updated_at = now() WHERE id = $1`,
          [enrollmentId, status, `suppressed: ${suppressed.rows[0].reason}`],
        );
        return { status: 'skipped', reason: 'suppressed' };
      }
      const hours: SendingHours = {
        zone: e.contact_zone ?? e.sequence_zone,
        window: { from: e.window_from, to: e.window_to },
        days: e.days,
      };
      const limits = {
        dailyLimit: e.daily_limit,
        warmupStartLimit: e.warmup_start_limit,
        warmupDailyIncrease: e.warmup_daily_increase,
        warmupStartedAt: e.warmup_started_at,
      };
      const reschedule = async (from: Date, reason: 'outside_window' | 'over_cap'): Promise<SendOutcome> => {
        const at = await freeSlot(
          client,
          e.mailbox_id,
          enrollmentId,
          nextOpening(from, hours),
          hours,
          limits,
          e.sequence_zone,
        );
        await client.query(
          'UPDATE sequence_contacts SET planned_at = $2, next_send_at = $2, updated_at = now() WHERE id = $1',
          [enrollmentId, at],
        );
        after = () => deps.reschedule(enrollmentId, at);
        return { status: 'rescheduled', at, reason };
      };
      // One sender per mailbox at a time: the counter rebuild, the 24 h count and the free slot of a
      // reschedule see every send and plan before them.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('briefly:mailbox:' || $1))`, [e.mailbox_id]);
      if (!isSendingTime(now, hours)) return reschedule(now, 'outside_window');
      const step = e.current_step + 1;
      const steps = await client.query('SELECT * FROM sequence_steps WHERE sequence_id = $1 ORDER BY step', [
        e.sequence_id,
      ]);
      const current = steps.rows.find((s) => s.step === step);
      if (!current) {
        await client.query(
          `UPDATE sequence_contacts SET status = 'completed', planned_at = NULL, next_send_at = NULL, updated_at = now()
           WHERE id = $1`,
          [enrollmentId],
        );
        return { status: 'skipped', reason: 'no_more_steps' };
      }

      const already = await client.query(
        'SELECT * FROM sequence_sends WHERE enrollment_id = $1 AND step = $2',
        [enrollmentId, step],
      );
      if (!already.rows[0]) {
        const over24h =
          (await sentBetween(client, e.mailbox_id, new Date(now.getTime() - 86_400_000))) >= e.daily_limit;
        if (over24h) return reschedule(now, 'over_cap');
        const days = await countedDays(client, e.mailbox_id, e.sequence_zone, limits, now);
        const reservation = await deps.counters.reserve(client, e.mailbox_id, now, days);
        // The day is full until it ends: the next opening inside it would be over the cap again.
        if (!reservation.ok)
          return reschedule(
            new Date(Math.max(now.getTime(), reservation.full.end.getTime() - 1)),
            'over_cap',
          );
        reserved = { mailboxId: e.mailbox_id, zones: days.map((d) => d.zone) };
      }

      const contact = {
        email: e.email,
        first_name: e.first_name,
        last_name: e.last_name,
        company: e.company,
        fields: e.fields ?? {},
      };
      const unsubscribeUrl = `${deps.publicUrl}/u/${signUnsubscribe(deps.unsubscribeSecret, e.contact_id, e.sequence_id)}`;
      const previous = (
        await client.query(
          'SELECT message_id_header FROM sequence_sends WHERE enrollment_id = $1 AND step < $2 ORDER BY step',
          [enrollmentId, step],
        )
      ).rows.map((r) => r.message_id_header as string);
      const first = steps.rows[0];
      // Later steps reply in the thread of the first: same subject with "Re:", In-Reply-To the last one.
      const subject =
        step === 1 || !first || previous.length === 0
          ? renderSubject(current.subject, contact)
          : `Re: ${renderSubject(first.subject, contact)}`;
      const body = renderBody(current.body, contact, unsubscribeUrl);
      const footerText = `\n\n--\nUnsubscribe: ${unsubscribeUrl}`;
      const footerHtml = `<p style="font-size:12px;color:#888"><a href="${unsubscribeUrl}">Unsubscribe</a></p>`;
      const headers: Record<string, string> = {
        'List-Unsubscribe': `<${unsubscribeUrl}>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      };
      const last = previous.at(-1);
      if (last) {
        headers['In-Reply-To'] = last;
        headers.References = previous.join(' ');
      }
      const sent = await deps.send({
        id: stepMessageId(enrollmentId, step),
        kind: SEQUENCE_KIND,
        from: { email: e.mailbox_email, ...(e.display_name ? { name: e.display_name } : {}) },
        to: [{ email: e.email }],
        subject,
        html: `${body.html}${footerHtml}`,
        text: `${body.text}${footerText}`,
        headers,
        priority: 'low',
        tags: ['sequence'],
        metadata: { sequence_id: e.sequence_id, enrollment_id: enrollmentId, step, mailbox_id: e.mailbox_id },
      });
      await client.query(
        `INSERT INTO sequence_sends (enrollment_id, step, mailbox_id, message_id, message_id_header, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (enrollment_id, step) DO NOTHING`,
        [enrollmentId, step, e.mailbox_id, sent.id, sent.messageIdHeader ?? `<${sent.id}@unknown>`, now],
      );
      const next = steps.rows.find((s) => s.step === step + 1);
      const nextSendAt = next ? localDayPlus(now, hours.zone, next.delay_days) : null;
      await client.query(
        `UPDATE sequence_contacts SET current_step = $2, last_sent_at = $3, next_send_at = $4, planned_at = NULL,
           status = $5, updated_at = now() WHERE id = $1`,
        [enrollmentId, step, now, nextSendAt, next ? 'active' : 'completed'],
      );
      return { status: 'sent', messageId: sent.id, step };
    });
    reserved = undefined;
    await after?.();
    return outcome;
  } finally {
    // The transaction failed after the counter moved: give the reservation back.
    if (reserved) await deps.counters.release(reserved.mailboxId, now, reserved.zones).catch(() => undefined);
  }
}

/**
 * The mailbox days a send at `now` counts in: the day in its sequence's zone, plus the day in the
 * zone of every other sequence the mailbox sends for (see MailboxCounters), each with its cap.
 */
async function countedDays(
  client: pg.ClientBase,
  mailboxId: string,
  sequenceZone: string,
  limits: Parameters<typeof dayCap>[0],
  now: Date,
): Promise<CountedDay[]> {
  const { rows } = await client.query(
    `SELECT DISTINCT s.time_zone FROM sequence_mailboxes sm JOIN sequences s ON s.id = sm.sequence_id
     WHERE sm.mailbox_id = $1 ORDER BY s.time_zone`,
    [mailboxId],
  );
  const zones = [sequenceZone, ...rows.map((r) => r.time_zone as string).filter((z) => z !== sequenceZone)];
  return zones.map((zone) => ({ zone, cap: dayCap(limits, now, zone) }));
}

/**
 * The first instant at or after `opening` at least the mailbox's minimum spacing away from its other
 * plans (the planner's bound: at most ceil(cap / window minutes) + 1 sends a minute).
 */
async function freeSlot(
  client: pg.ClientBase,
  mailboxId: string,
  enrollmentId: string,
  opening: Date,
  hours: SendingHours,
  limits: Parameters<typeof dayCap>[0],
  sequenceZone: string,
): Promise<Date> {
  const spacing = minSpacingMs(dayCap(limits, opening, sequenceZone), windowMinutes(hours.window));
  const { rows } = await client.query(
    `SELECT planned_at FROM sequence_contacts
     WHERE mailbox_id = $1 AND status = 'active' AND id <> $2 AND planned_at > $3 AND planned_at < $4
     ORDER BY planned_at`,
    [mailboxId, enrollmentId, new Date(opening.getTime() - spacing), sendingClosesAt(opening, hours)],
  );
  let slot = opening.getTime();
  for (const r of rows) {
    const planned = (r.planned_at as Date).getTime();
    if (planned >= slot + spacing) break;
    slot = Math.max(slot, planned + spacing);
  }
  return new Date(slot);
}
