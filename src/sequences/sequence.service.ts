import type pg from 'pg';
import { inTransaction } from '../db/client.ts';
import type { Clock } from '../shared/time.ts';
import { dayCap, remainingCapacity } from './mailbox-caps.ts';
import { localDay, nextSendingInstant, type SendingHours } from './sending-window.ts';
import type { EnrollmentStatus } from './sequence.tables.ts';

/** A bounce rate over this share of a mailbox's sends in its day (in the sequence's zone) pauses it. */
export const BOUNCE_PAUSE_RATE = 0.05;
/** ...once it has sent at least this many that day (one early bounce is not a rate). */
export const BOUNCE_PAUSE_MIN_SENDS = 20;

export interface StopResult {
  enrollmentId: string;
  sequenceId: string;
  contactEmail: string;
  ownerSlackUserId: string | null;
  mailboxId: string;
  /** The sequence's time zone: the mailbox's day is counted in it. */
  timeZone: string;
}

export interface SequenceOverview {
  id: string;
  name: string;
  status: string;
  window: string;
  timeZone: string;
  steps: number;
  active: number;
  replied: number;
  bounced: number;
  mailboxes: { email: string; status: string; planned: number; sent: number }[];
}

export interface ForecastDay {
  date: string;
  mailboxes: { mailbox_id: string; email: string; planned: number; capacity: number }[];
}

/** Stop rules and numbers over enrollments; sends and plans live in the planner and sender. */
export class SequenceService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: Clock,
  ) {}

  /**
   * Stops the enrollments that sent one of these messages (by our message id) at once: nothing more
   * is sent to that contact by that sequence. Returns the stopped ones (for DMs and alerts).
   */
  async stopByMessages(
    messageIds: string[],
    status: Extract<EnrollmentStatus, 'replied' | 'bounced' | 'unsubscribed'>,
    reason: string,
  ): Promise<StopResult[]> {
    if (!messageIds.length) return [];
    const { rows } = await this.pool.query(
      `UPDATE sequence_contacts e SET status = $2, stopped_reason = $3, planned_at = NULL, next_send_at = NULL,
         updated_at = now()
       FROM sequence_sends s, sequences q, contacts c
       WHERE s.message_id = ANY($1::uuid[]) AND e.id = s.enrollment_id AND q.id = e.sequence_id
         AND c.id = e.contact_id AND e.status IN ('active', 'paused')
       RETURNING e.id, e.sequence_id, e.mailbox_id, c.email, q.owner_slack_user_id, q.time_zone`,
      [messageIds, status, reason],
    );
    return rows.map((r) => ({
      enrollmentId: r.id,
      sequenceId: r.sequence_id,
      contactEmail: r.email,
      ownerSlackUserId: r.owner_slack_user_id,
      mailboxId: r.mailbox_id,
      timeZone: r.time_zone,
    }));
  }

  /** Our message ids among Message-ID header values (In-Reply-To / References of an inbound mail). */
  async messagesByHeaders(headers: string[]): Promise<string[]> {
    if (!headers.length) return [];
    const { rows } = await this.pool.query(
      'SELECT message_id FROM sequence_sends WHERE message_id_header = ANY($1::text[])',
      [headers],
    );
    return rows.map((r) => r.message_id);
  }

  /** Resolves provider events to our message ids of sequence sends (by id or the provider's id). */
  async sequenceMessages(refs: { messageId?: string; providerMessageId?: string }[]): Promise<string[]> {
    const ids = refs
      .map((r) => r.messageId)
      .filter((v): v is string => Boolean(v && /^[0-9a-f-]{36}$/i.test(v)));
    const providerIds = refs.map((r) => r.providerMessageId).filter((v): v is string => Boolean(v));
    if (!ids.length && !providerIds.length) return [];
    const { rows } = await this.pool.query(
      `SELECT s.message_id FROM sequence_sends s JOIN messages m ON m.id = s.message_id
       WHERE m.id = ANY($1::uuid[]) OR m.provider_message_id = ANY($2::text[])`,
      [ids, providerIds],
    );
    return rows.map((r) => r.message_id);
  }

  /**
   * A step that could not be sent after its last attempt: the enrollment stops as `failed` with the
   * reason (only if it is still planned for that instant; a replanned one is left alone).
   */
  async markFailed(enrollmentId: string, plannedAt: number | undefined, reason: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE sequence_contacts SET status = 'failed', stopped_reason = $3, planned_at = NULL, next_send_at = NULL,
         updated_at = now()
       WHERE id = $1 AND status = 'active' AND ($2::timestamptz IS NULL OR planned_at = $2::timestamptz)`,
      [
        enrollmentId,
        plannedAt === undefined ? null : new Date(plannedAt),
        `send failed: ${reason.slice(0, 500)}`,
      ],
    );
    return (rowCount ?? 0) > 0;
  }

  /** One-click unsubscribe: the contact's enrollments in that sequence stop (idempotent). */
  async unsubscribe(contactId: string, sequenceId: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE sequence_contacts SET status = 'unsubscribed', stopped_reason = 'unsubscribe link', planned_at = NULL,
         next_send_at = NULL, updated_at = now()
       WHERE contact_id = $1 AND sequence_id = $2 AND status IN ('active', 'paused')`,
      [contactId, sequenceId],
    );
    return rowCount ?? 0;
  }

  /**
   * Pauses a mailbox whose bounces today are over BOUNCE_PAUSE_RATE of its sends today, "today" being
   * the mailbox's day in `zone` (the time zone of the sequence whose mail bounced). Returns the
   * figures when it paused it now (so the caller alerts once), undefined otherwise.
   */
  async pauseOnBounceRate(
    mailboxId: string,
    zone: string,
  ): Promise<{ email: string; sent: number; bounced: number } | undefined> {
    const day = localDay(this.clock.now(), zone);
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `SELECT m.email, m.status,
           (SELECT count(*)::int FROM sequence_sends s WHERE s.mailbox_id = m.id AND s.sent_at >= $2
              AND s.sent_at < $3) AS sent,
           (SELECT count(*)::int FROM sequence_sends s JOIN sequence_contacts e ON e.id = s.enrollment_id
              WHERE s.mailbox_id = m.id AND s.sent_at >= $2 AND s.sent_at < $3 AND e.status = 'bounced') AS bounced
         FROM mailboxes m WHERE m.id = $1 FOR UPDATE`,
        [mailboxId, day.start, day.end],
      );
      const m = rows[0];
      if (
        m?.status !== 'active' ||
        m.sent < BOUNCE_PAUSE_MIN_SENDS ||
        m.bounced / m.sent <= BOUNCE_PAUSE_RATE
      )
        return undefined;
      await client.query(
        `UPDATE mailboxes SET status = 'paused', paused_reason = $2, updated_at = now() WHERE id = $1`,
        [mailboxId, `bounce rate ${m.bounced}/${m.sent} on ${day.key}`],
      );
      await client.query(
        `UPDATE sequence_contacts SET planned_at = NULL WHERE mailbox_id = $1 AND status = 'active'`,
        [mailboxId],
      );
      return { email: m.email, sent: m.sent, bounced: m.bounced };
    });
  }

  /**
   * For Slack: each sequence with today's planned and sent per mailbox ("today" in the sequence's
   * time zone, the mailbox's day), replies and bounces.
   */
  async overview(): Promise<SequenceOverview[]> {
    const { rows } = await this.pool.query(
      `SELECT q.id, q.name, q.status, q.window_from, q.window_to, q.time_zone,
         (SELECT count(*)::int FROM sequence_steps st WHERE st.sequence_id = q.id) AS steps,
         (SELECT count(*)::int FROM sequence_contacts e WHERE e.sequence_id = q.id AND e.status = 'active') AS active,
         (SELECT count(*)::int FROM sequence_contacts e WHERE e.sequence_id = q.id AND e.status = 'replied') AS replied,
         (SELECT count(*)::int FROM sequence_contacts e WHERE e.sequence_id = q.id AND e.status = 'bounced') AS bounced,
         coalesce((SELECT json_agg(json_build_object('email', m.email, 'status', m.status,
             'planned', (SELECT count(*) FROM sequence_contacts e WHERE e.sequence_id = q.id AND e.mailbox_id = m.id
                           AND e.status = 'active' AND e.planned_at >= d.day_start AND e.planned_at < d.day_end),
             'sent', (SELECT count(*) FROM sequence_sends s JOIN sequence_contacts e ON e.id = s.enrollment_id
                        WHERE e.sequence_id = q.id AND s.mailbox_id = m.id AND s.sent_at >= d.day_start
                          AND s.sent_at < d.day_end))
             ORDER BY m.email)
           FROM sequence_mailboxes sm JOIN mailboxes m ON m.id = sm.mailbox_id WHERE sm.sequence_id = q.id), '[]') AS mailboxes
       FROM sequences q,
         LATERAL (SELECT date_trunc('day', $1::timestamptz AT TIME ZONE q.time_zone) AT TIME ZONE q.time_zone AS day_start,
                    (date_trunc('day', $1::timestamptz AT TIME ZONE q.time_zone) + interval '1 day')
                      AT TIME ZONE q.time_zone AS day_end) d
       ORDER BY q.created_at, q.id LIMIT 20`,
      [this.clock.now()],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      window: `${r.window_from}-${r.window_to}`,
      timeZone: r.time_zone,
      steps: r.steps,
      active: r.active,
      replied: r.replied,
      bounced: r.bounced,
      mailboxes: r.mailboxes.map((m: { email: string; status: string; planned: number; sent: number }) => ({
        email: m.email,
        status: m.status,
        planned: Number(m.planned),
        sent: Number(m.sent),
      })),
    }));
  }

  /**
   * Planned sends per mailbox per day for the next 7 days under the current caps, days being the
   * mailbox's days in the sequence's time zone (`date` is that local date): the active enrollments'
   * next steps, oldest first, fitted into each day's capacity (warm-up included); what does not fit
   * moves to the next day. Later steps of the same contact are not projected.
   */
  async forecast(sequenceId: string): Promise<ForecastDay[]> {
    const now = this.clock.now();
    const zoneRow = await this.pool.query('SELECT time_zone FROM sequences WHERE id = $1', [sequenceId]);
    const zone: string = zoneRow.rows[0]?.time_zone ?? 'UTC';
    const days = [localDay(now, zone)];
    for (let i = 1; i < 7; i++) days.push(localDay((days[i - 1] as { end: Date }).end, zone));
    const today = days[0] as { start: Date; end: Date };
    const dayIndex = (at: Date) => days.findIndex((d) => at >= d.start && at < d.end);
    const mailboxes = (
      await this.pool.query(
        `SELECT m.*,
           (SELECT count(*)::int FROM sequence_sends s WHERE s.mailbox_id = m.id AND s.sent_at >= $2 AND s.sent_at < $3) AS sent_today,
           (SELECT count(*)::int FROM sequence_sends s WHERE s.mailbox_id = m.id AND s.sent_at >= $4) AS sent_24h
         FROM mailboxes m JOIN sequence_mailboxes sm ON sm.mailbox_id = m.id WHERE sm.sequence_id = $1 ORDER BY m.email`,
        [sequenceId, today.start, today.end, new Date(now.getTime() - 86_400_000)],
      )
    ).rows;
    const due = (
      await this.pool.query(
        `SELECT e.mailbox_id, coalesce(e.planned_at, e.next_send_at) AS at, coalesce(c.time_zone, s.time_zone) AS zone,
           s.window_from, s.window_to, s.days
         FROM sequence_contacts e JOIN sequences s ON s.id = e.sequence_id JOIN contacts c ON c.id = e.contact_id
         WHERE e.sequence_id = $1 AND e.status = 'active' AND e.next_send_at IS NOT NULL
         ORDER BY e.next_send_at, e.id`,
        [sequenceId],
      )
    ).rows;
    const result: ForecastDay[] = days.map((d) => ({ date: d.key, mailboxes: [] }));
    for (const m of mailboxes) {
      const limits = {
        dailyLimit: m.daily_limit,
        warmupStartLimit: m.warmup_start_limit,
        warmupDailyIncrease: m.warmup_daily_increase,
        warmupStartedAt: m.warmup_started_at,
      };
      const paused = m.status !== 'active';
      const capacity = days.map((d, i) =>
        paused
          ? 0
          : i === 0
            ? remainingCapacity(limits, now, zone, m.sent_today, m.sent_24h)
            : dayCap(limits, d.start, zone),
      );
      const planned = days.map(() => 0);
      for (const e of due.filter((r) => r.mailbox_id === m.id)) {
        const hours: SendingHours = {
          zone: e.zone,
          window: { from: e.window_from, to: e.window_to },
          days: e.days,
        };
        let at = nextSendingInstant(new Date(Math.max(now.getTime(), e.at.getTime())), hours);
        let index = dayIndex(at);
        while (index >= 0 && (planned[index] as number) >= (capacity[index] as number)) {
          const next = days[index + 1];
          if (!next) {
            index = -1;
            break;
          }
          at = nextSendingInstant(next.start, hours);
          index = dayIndex(at);
        }
        if (index >= 0) planned[index] = (planned[index] as number) + 1;
      }
      days.forEach((_, i) => {
        result[i]?.mailboxes.push({
          mailbox_id: m.id,
          email: m.email,
          planned: planned[i] as number,
          capacity: capacity[i] as number,
        });
      });
    }
    return result;
  }
}
