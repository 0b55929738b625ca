import { createHash } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../db/client.ts';
import type { InternalEmail } from '../delivery/delivery.service.ts';
import { dayCap, type MailboxCounters, sentSince } from './mailbox-caps.ts';
import { isSendingTime, localDayPlus, nextSendingInstant, type SendingHours } from './sending-window.ts';
import { renderBody, renderSubject } from './sequence-template.ts';
import { signUnsubscribe } from './unsubscribe-token.ts';

export const SEQUENCE_KIND = 'sequence';

export type SendOutcome =
  | { status: 'sent'; messageId: string; step: number }
  | { status: 'skipped'; reason: string }
  | { status: 'rescheduled'; at: Date; reason: 'outside_window' }
  | { status: 'over_cap' };

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
 * changed since it was planned: status, the window (else: the next opening), and the mailbox's cap
 * (Redis counter with the cap, rebuilt from PostgreSQL if lost; rolling 24 h from PostgreSQL). Over
 * the cap, the plan is dropped and the planner fits it into a later day's capacity, oldest first.
 */
export async function sendStep(
  deps: SenderDeps,
  enrollmentId: string,
  now: Date,
  /** The plan this job was enqueued for: a job of an older plan (replanned since) does nothing. */
  plannedAt?: number,
): Promise<SendOutcome> {
  let after: (() => Promise<void>) | undefined;
  let reserved: { mailboxId: string } | undefined;
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
      if (!isSendingTime(now, hours)) {
        const at = nextSendingInstant(now, hours);
        await client.query('UPDATE sequence_contacts SET planned_at = $2 WHERE id = $1', [enrollmentId, at]);
        after = () => deps.reschedule(enrollmentId, at);
        return { status: 'rescheduled', at, reason: 'outside_window' };
      }
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

      // One sender per mailbox at a time: the counter rebuild and the 24 h count see every send before it.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('briefly:mailbox:' || $1))`, [e.mailbox_id]);
      const already = await client.query(
        'SELECT * FROM sequence_sends WHERE enrollment_id = $1 AND step = $2',
        [enrollmentId, step],
      );
      const limits = {
        dailyLimit: e.daily_limit,
        warmupStartLimit: e.warmup_start_limit,
        warmupDailyIncrease: e.warmup_daily_increase,
        warmupStartedAt: e.warmup_started_at,
      };
      if (!already.rows[0]) {
        const over24h =
          (await sentSince(client, e.mailbox_id, new Date(now.getTime() - 86_400_000))) >= e.daily_limit;
        if (over24h || !(await deps.counters.reserve(client, e.mailbox_id, now, dayCap(limits, now)))) {
          await client.query('UPDATE sequence_contacts SET planned_at = NULL WHERE id = $1', [enrollmentId]);
          return { status: 'over_cap' };
        }
        reserved = { mailboxId: e.mailbox_id };
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
    if (reserved) await deps.counters.release(reserved.mailboxId, now).catch(() => undefined);
  }
}
