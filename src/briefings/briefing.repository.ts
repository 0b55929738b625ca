import type pg from 'pg';
import type { BRIEFING_STATUSES } from '../db/schema.ts';
import type { BriefingTimes } from './briefing-schedule.ts';

export type BriefingStatus = (typeof BRIEFING_STATUSES)[number];

export interface BriefingRow {
  id: string;
  rep_id: string;
  local_date: string;
  time_zone: string;
  status: BriefingStatus;
  prepare_at: Date;
  deliver_at: Date;
  cutoff_at: Date;
  prepared_at: Date | null;
  meeting_count: number | null;
  content: Record<string, unknown> | null;
  message_id: string | null;
  reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface BriefingWithMessage extends BriefingRow {
  message_status: string | null;
}

export interface DueRep {
  id: string;
  name: string;
  email: string;
  time_zone: string;
  prep_time: string;
  briefing_time: string;
}

/**
 * Briefing rows. `(rep_id, local_date)` is unique: whichever scheduler or worker creates the
 * day's row first owns it, the others find it there, so a briefing is never built twice.
 */
export class BriefingRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Every rep, a page at a time (the tick walks them all; 2,000 reps are one page). */
  async repsPage(afterId: string | null, limit: number): Promise<DueRep[]> {
    const { rows } = await this.pool.query(
      `SELECT id, name, email, time_zone, prep_time, briefing_time FROM reps
       WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
    return rows;
  }

  /** Which of these (rep, date) pairs already have a row. */
  async existing(pairs: { repId: string; localDate: string }[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const { rows } = await this.pool.query(
      `SELECT rep_id || '|' || local_date AS k FROM briefings b
       JOIN unnest($1::uuid[], $2::text[]) AS p(rep_id, local_date) USING (rep_id, local_date)`,
      [pairs.map((p) => p.repId), pairs.map((p) => p.localDate)],
    );
    return new Set(rows.map((r) => r.k as string));
  }

  /** Creates the day's row unless one exists; answers the row only to the caller that created it. */
  async create(
    repId: string,
    timeZone: string,
    times: BriefingTimes,
    status: BriefingStatus = 'pending',
    reason: string | null = null,
  ): Promise<BriefingRow | undefined> {
    const { rows } = await this.pool.query(
      `INSERT INTO briefings (rep_id, local_date, time_zone, status, prepare_at, deliver_at, cutoff_at, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (rep_id, local_date) DO NOTHING RETURNING *`,
      [repId, times.localDate, timeZone, status, times.prepareAt, times.deliverAt, times.cutoffAt, reason],
    );
    return rows[0];
  }

  async get(id: string): Promise<BriefingRow | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM briefings WHERE id = $1', [id]);
    return rows[0];
  }

  async forDate(repId: string, localDate: string): Promise<BriefingRow | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM briefings WHERE rep_id = $1 AND local_date = $2', [
      repId,
      localDate,
    ]);
    return rows[0];
  }

  /**
   * Rows whose next step is due but has not happened for two minutes: their job was lost (Redis
   * restarted empty) or never enqueued; the tick enqueues them again under the same job id.
   */
  async stalled(now: Date, refreshMinutes: number, limit: number): Promise<BriefingRow[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM briefings
       WHERE (status = 'pending' AND prepare_at <= $1 AND updated_at < $1::timestamptz - interval '2 minutes')
          OR (status = 'prepared' AND deliver_at <= $1::timestamptz + $3 * interval '1 minute'
              AND updated_at < $1::timestamptz - interval '2 minutes')
       ORDER BY deliver_at LIMIT $2`,
      [now, limit, -refreshMinutes],
    );
    return rows;
  }

  /** Moves a row from one status to another; false when another worker already moved it. */
  async transition(
    id: string,
    from: BriefingStatus[],
    to: BriefingStatus,
    fields: { reason?: string | null; content?: unknown; meetingCount?: number; prepared?: boolean } = {},
  ): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE briefings SET status = $3,
         reason = CASE WHEN $4::boolean THEN $5 ELSE reason END,
         content = coalesce($6::jsonb, content),
         meeting_count = coalesce($7, meeting_count),
         prepared_at = CASE WHEN $8::boolean THEN now() ELSE prepared_at END,
         updated_at = now()
       WHERE id = $1 AND status = ANY($2::text[])`,
      [
        id,
        from,
        to,
        fields.reason !== undefined,
        fields.reason ?? null,
        fields.content === undefined ? null : JSON.stringify(fields.content),
        fields.meetingCount ?? null,
        fields.prepared ?? false,
      ],
    );
    return (rowCount ?? 0) > 0;
  }

  /** The message id this briefing is sent under, reserved once so a retried finalize sends once. */
  async reserveMessageId(id: string): Promise<string> {
    const { rows } = await this.pool.query(
      `UPDATE briefings SET message_id = coalesce(message_id, gen_random_uuid()), updated_at = now()
       WHERE id = $1 RETURNING message_id`,
      [id],
    );
    return rows[0].message_id;
  }

  async list(repId: string, limit: number, before?: string): Promise<BriefingWithMessage[]> {
    const { rows } = await this.pool.query(
      `SELECT b.*, m.status AS message_status FROM briefings b LEFT JOIN messages m ON m.id = b.message_id
       WHERE b.rep_id = $1 AND ($3::text IS NULL OR b.local_date < $3)
       ORDER BY b.local_date DESC LIMIT $2`,
      [repId, limit, before ?? null],
    );
    return rows;
  }
}
