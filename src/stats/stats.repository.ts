import type pg from 'pg';
import { type AuditEntry, recordAudit } from '../audit/audit.repository.ts';
import { inTransaction } from '../db/client.ts';
import type { StatsSection } from './stats.tables.ts';
import {
  type AppointmentStats,
  type BriefingStats,
  CHART_DAYS,
  CHART_STATUSES,
  type ChartPoint,
  chartStatus,
  type DeliveryStats,
  LATE_AFTER_MINUTES,
  type LocalDay,
  localDay,
  type MailoutStats,
  type SequenceStats,
  shiftDate,
} from './stats-report.ts';

export interface StatsChannelRow {
  id: string;
  channel_id: string;
  post_time: string;
  time_zone: string;
  sections: StatsSection[];
  status: 'active' | 'broken';
  broken_reason: string | null;
  broken_at: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface StatsRecipientRow {
  id: string;
  email: string;
  name: string | null;
  send_time: string;
  time_zone: string;
  sections: StatsSection[];
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export type TargetKind = 'channel' | 'email';

export interface StatsRunRow {
  id: number;
  target_kind: TargetKind;
  target_id: string;
  local_date: string;
  status: 'pending' | 'done' | 'skipped';
  report: Record<string, unknown> | null;
  post_key: string | null;
  message_id: string | null;
  chart_status: 'pending' | 'uploaded' | 'failed' | 'skipped' | null;
  chart_file_id: string | null;
  chart_error: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ChannelValues {
  channel_id: string;
  post_time: string;
  time_zone: string;
  sections: StatsSection[];
}

export interface RecipientValues {
  email: string;
  name: string | null;
  send_time: string;
  time_zone: string;
  sections: StatsSection[];
}

const SENT_STATUSES = `('sent', 'delivered', 'opened', 'clicked', 'bounced', 'dropped', 'spam_report', 'unsubscribed')`;

/**
 * Stats configuration (channels, recipients), the daily runs, and the aggregate queries. Every
 * count is over [from, to) of one local day, read from the tables the features already keep;
 * nothing is counted twice into a table of its own.
 */
export class StatsRepository {
  constructor(private readonly pool: pg.Pool) {}

  // --- channels

  async listChannels(): Promise<StatsChannelRow[]> {
    const { rows } = await this.pool.query('SELECT * FROM stats_channels ORDER BY created_at, id');
    return rows;
  }

  async getChannel(id: string): Promise<StatsChannelRow | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM stats_channels WHERE id = $1', [id]);
    return rows[0];
  }

  async findChannelBySlackId(channelId: string): Promise<StatsChannelRow | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM stats_channels WHERE channel_id = $1', [channelId]);
    return rows[0];
  }

  /** Inserts, or returns undefined when the Slack channel is already a stats channel. */
  async createChannel(
    values: ChannelValues,
    createdBy: string,
    audit: (row: StatsChannelRow) => AuditEntry,
  ): Promise<StatsChannelRow | undefined> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `INSERT INTO stats_channels (channel_id, post_time, time_zone, sections, created_by)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id) DO NOTHING RETURNING *`,
        [values.channel_id, values.post_time, values.time_zone, values.sections, createdBy],
      );
      const row = rows[0] as StatsChannelRow | undefined;
      if (row) await recordAudit(client, audit(row));
      return row;
    });
  }

  /**
   * Changes the given fields. Saving a channel (any change) also clears a broken state: the caller
   * has just checked that Briefly can post there.
   */
  async updateChannel(
    id: string,
    values: Partial<ChannelValues>,
    audit: (row: StatsChannelRow) => AuditEntry,
  ): Promise<StatsChannelRow | undefined> {
    return inTransaction(this.pool, async (client) => {
      const sets: string[] = [];
      const params: unknown[] = [id];
      for (const column of ['channel_id', 'post_time', 'time_zone', 'sections'] as const) {
        if (values[column] === undefined) continue;
        params.push(values[column]);
        sets.push(`${column} = $${params.length}`);
      }
      const { rows } = await client.query(
        `UPDATE stats_channels SET ${[...sets, "status = 'active'", 'broken_reason = NULL', 'broken_at = NULL', 'updated_at = now()'].join(', ')}
         WHERE id = $1 RETURNING *`,
        params,
      );
      const row = rows[0] as StatsChannelRow | undefined;
      if (row) await recordAudit(client, audit(row));
      return row;
    });
  }

  async deleteChannel(id: string, audit: (row: StatsChannelRow) => AuditEntry) {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query('DELETE FROM stats_channels WHERE id = $1 RETURNING *', [id]);
      const row = rows[0] as StatsChannelRow | undefined;
      if (!row) return undefined;
      // The settings modal's single "Stats channel" would bring it straight back: it goes too.
      await client.query(`DELETE FROM settings WHERE key = 'stats_channel' AND value = to_jsonb($1::text)`, [
        row.channel_id,
      ]);
      await recordAudit(client, audit(row));
      return row;
    });
  }

  /** Marks a channel broken; true only for the call that moved it there (one alert per episode). */
  async markBroken(id: string, reason: string, at: Date): Promise<StatsChannelRow | undefined> {
    const { rows } = await this.pool.query(
      `UPDATE stats_channels SET status = 'broken', broken_reason = $2, broken_at = $3, updated_at = now()
       WHERE id = $1 AND status = 'active' RETURNING *`,
      [id, reason, at],
    );
    return rows[0];
  }

  // --- recipients

  async listRecipients(): Promise<StatsRecipientRow[]> {
    const { rows } = await this.pool.query('SELECT * FROM stats_recipients ORDER BY created_at, id');
    return rows;
  }

  async getRecipient(id: string): Promise<StatsRecipientRow | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM stats_recipients WHERE id = $1', [id]);
    return rows[0];
  }

  async createRecipient(
    values: RecipientValues,
    createdBy: string,
    audit: (row: StatsRecipientRow) => AuditEntry,
  ): Promise<StatsRecipientRow | undefined> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `INSERT INTO stats_recipients (email, name, send_time, time_zone, sections, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING *`,
        [values.email, values.name, values.send_time, values.time_zone, values.sections, createdBy],
      );
      const row = rows[0] as StatsRecipientRow | undefined;
      if (row) await recordAudit(client, audit(row));
      return row;
    });
  }

  /** Undefined when there is no such recipient; 'conflict' when the new email is already one. */
  async updateRecipient(
    id: string,
    values: Partial<RecipientValues>,
    audit: (row: StatsRecipientRow) => AuditEntry,
  ): Promise<StatsRecipientRow | 'conflict' | undefined> {
    return inTransaction(this.pool, async (client) => {
      const sets: string[] = [];
      const params: unknown[] = [id];
      for (const column of ['email', 'name', 'send_time', 'time_zone', 'sections'] as const) {
        if (values[column] === undefined) continue;
        params.push(values[column]);
        sets.push(`${column} = $${params.length}`);
      }
      if (values.email !== undefined) {
        const { rowCount } = await client.query(
          'SELECT 1 FROM stats_recipients WHERE lower(email) = lower($1) AND id <> $2',
          [values.email, id],
        );
        if (rowCount) return 'conflict';
      }
      const { rows } = await client.query(
        `UPDATE stats_recipients SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING *`,
        params,
      );
      const row = rows[0] as StatsRecipientRow | undefined;
      if (row) await recordAudit(client, audit(row));
      return row;
    });
  }

  async deleteRecipient(id: string, audit: (row: StatsRecipientRow) => AuditEntry) {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query('DELETE FROM stats_recipients WHERE id = $1 RETURNING *', [id]);
      const row = rows[0] as StatsRecipientRow | undefined;
      if (row) await recordAudit(client, audit(row));
      return row;
    });
  }

  // --- runs

  /** The run of a target and date, created if missing (the unique key makes one per day). */
  async ensureRun(kind: TargetKind, targetId: string, localDate: string): Promise<StatsRunRow> {
    const { rows } = await this.pool.query(
      `INSERT INTO stats_runs (target_kind, target_id, local_date) VALUES ($1, $2, $3)
       ON CONFLICT (target_kind, target_id, local_date) DO UPDATE SET target_kind = EXCLUDED.target_kind
       RETURNING *`,
      [kind, targetId, localDate],
    );
    return rows[0];
  }

  async getRun(kind: TargetKind, targetId: string, localDate: string): Promise<StatsRunRow | undefined> {
    const { rows } = await this.pool.query(
      'SELECT * FROM stats_runs WHERE target_kind = $1 AND target_id = $2 AND local_date = $3',
      [kind, targetId, localDate],
    );
    return rows[0];
  }

  /** Runs of these targets for these dates (the scheduler's "already done today?" in one query). */
  async runsFor(kind: TargetKind, keys: { targetId: string; localDate: string }[]): Promise<StatsRunRow[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.pool.query(
      `SELECT r.* FROM stats_runs r JOIN unnest($2::uuid[], $3::text[]) AS k(target_id, local_date)
         ON r.target_id = k.target_id AND r.local_date = k.local_date
       WHERE r.target_kind = $1`,
      [kind, keys.map((k) => k.targetId), keys.map((k) => k.localDate)],
    );
    return rows;
  }

  async updateRun(
    id: number,
    values: Partial<
      Pick<
        StatsRunRow,
        | 'status'
        | 'report'
        | 'post_key'
        | 'message_id'
        | 'chart_status'
        | 'chart_file_id'
        | 'chart_error'
        | 'error'
      >
    >,
  ): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [column, value] of Object.entries(values)) {
      if (value === undefined) continue;
      params.push(column === 'report' && value !== null ? JSON.stringify(value) : value);
      sets.push(`${column} = $${params.length}`);
    }
    if (sets.length === 0) return;
    await this.pool.query(
      `UPDATE stats_runs SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1`,
      params,
    );
  }

  // --- numbers

  async deliveries(day: LocalDay): Promise<DeliveryStats> {
    const [messages, swaps] = await Promise.all([
      this.pool.query<{ status: string; provider: string | null; n: number }>(
        `SELECT status::text AS status, provider, count(*)::int AS n FROM messages
         WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2`,
        [day.from, day.to],
      ),
      this.pool.query<{ provider: string; at: Date; reason: string }>(
        `SELECT provider, at, reason FROM provider_swaps
         WHERE state = 'open' AND at >= $1 AND at < $2 ORDER BY at, id`,
        [day.from, day.to],
      ),
    ]);
    const stats: DeliveryStats = { total: 0, byStatus: {}, byProvider: {}, failovers: [] };
    for (const row of messages.rows) {
      stats.total += row.n;
      stats.byStatus[row.status] = (stats.byStatus[row.status] ?? 0) + row.n;
      if (row.provider) stats.byProvider[row.provider] = (stats.byProvider[row.provider] ?? 0) + row.n;
    }
    stats.failovers = swaps.rows.map((s) => ({
      provider: s.provider,
      at: s.at.toISOString(),
      reason: s.reason,
    }));
    return stats;
  }

  async mailouts(day: LocalDay): Promise<MailoutStats> {
    // Only the messages of mailouts that were running that day are read (mailout_messages holds
    // millions of rows; the mailout id leads its unique index).
    const { rows } = await this.pool.query(
      `WITH active AS (
         SELECT id, ended_at FROM mailouts
         WHERE started_at IS NOT NULL AND started_at < $2 AND (ended_at IS NULL OR ended_at >= $1)
       )
       SELECT
         (SELECT count(*)::int FROM active WHERE ended_at IS NULL OR ended_at >= $2) AS running,
         (SELECT count(*)::int FROM mailouts WHERE ended_at >= $1 AND ended_at < $2) AS finished,
         (SELECT count(*) FILTER (WHERE mm.status = 'sent' AND mm.sent_at >= $1 AND mm.sent_at < $2)::int
            FROM mailout_messages mm WHERE mm.mailout_id IN (SELECT id FROM active)) AS sent,
         (SELECT count(*) FILTER (WHERE mm.status = 'failed' AND mm.updated_at >= $1 AND mm.updated_at < $2)::int
            FROM mailout_messages mm WHERE mm.mailout_id IN (SELECT id FROM active)) AS failed,
         (SELECT count(*) FILTER (WHERE mm.status = 'expired' AND mm.updated_at >= $1 AND mm.updated_at < $2)::int
            FROM mailout_messages mm WHERE mm.mailout_id IN (SELECT id FROM active)) AS expired`,
      [day.from, day.to],
    );
    const r = rows[0];
    return { running: r.running, finished: r.finished, sent: r.sent, failed: r.failed, expired: r.expired };
  }

  async sequences(day: LocalDay): Promise<SequenceStats> {
    const { rows } = await this.pool.query<{
      id: string;
      name: string;
      sent: number;
      replies: number;
      bounces: number;
      unsubscribes: number;
    }>(
      `WITH sent AS (
         SELECT e.sequence_id, count(*)::int AS n FROM sequence_sends s
         JOIN sequence_contacts e ON e.id = s.enrollment_id
         WHERE s.sent_at >= $1 AND s.sent_at < $2 GROUP BY 1
       ), stopped AS (
         SELECT sequence_id,
           count(*) FILTER (WHERE status = 'replied')::int AS replies,
           count(*) FILTER (WHERE status = 'bounced')::int AS bounces,
           count(*) FILTER (WHERE status = 'unsubscribed')::int AS unsubscribes
         FROM sequence_contacts
         WHERE status IN ('replied', 'bounced', 'unsubscribed') AND updated_at >= $1 AND updated_at < $2
         GROUP BY 1
       )
       SELECT q.id, q.name, coalesce(sent.n, 0) AS sent, coalesce(st.replies, 0) AS replies,
         coalesce(st.bounces, 0) AS bounces, coalesce(st.unsubscribes, 0) AS unsubscribes
       FROM sequences q LEFT JOIN sent ON sent.sequence_id = q.id LEFT JOIN stopped st ON st.sequence_id = q.id
       WHERE sent.n IS NOT NULL OR st.sequence_id IS NOT NULL
       ORDER BY coalesce(sent.n, 0) DESC, q.name, q.id`,
      [day.from, day.to],
    );
    const totals = { sent: 0, replies: 0, bounces: 0, unsubscribes: 0 };
    for (const row of rows) {
      totals.sent += row.sent;
      totals.replies += row.replies;
      totals.bounces += row.bounces;
      totals.unsubscribes += row.unsubscribes;
    }
    return { sequences: rows, totals };
  }

  async appointments(day: LocalDay): Promise<AppointmentStats> {
    const today = localDay(shiftDate(day.localDate, 1), day.timeZone);
    const { rows } = await this.pool.query(
      `SELECT
         (SELECT count(*)::int FROM appointments WHERE created_at >= $1 AND created_at < $2) AS booked,
         (SELECT count(*)::int FROM appointments
            WHERE status = 'cancelled' AND updated_at >= $1 AND updated_at < $2) AS cancelled,
         (SELECT count(*)::int FROM appointments
            WHERE status = 'booked' AND starts_at >= $3 AND starts_at < $4) AS upcoming`,
      [day.from, day.to, today.from, today.to],
    );
    const r = rows[0];
    return { booked: r.booked, cancelled: r.cancelled, upcomingToday: r.upcoming };
  }

  async briefings(day: LocalDay): Promise<BriefingStats> {
    const { rows } = await this.pool.query(
      `SELECT
         count(*) FILTER (WHERE m.status IN ${SENT_STATUSES})::int AS sent,
         count(*) FILTER (WHERE m.status IN ${SENT_STATUSES}
           AND m.sent_at > b.deliver_at + make_interval(mins => $3))::int AS late,
         count(*) FILTER (WHERE b.status = 'skipped')::int AS skipped,
         count(*) FILTER (WHERE b.status = 'failed' OR m.status = 'failed')::int AS failed,
         (SELECT count(*)::int FROM participants WHERE status = 'found' AND fetched_at >= $1 AND fetched_at < $2) AS hits,
         (SELECT count(*)::int FROM participants WHERE status = 'not_found' AND fetched_at >= $1 AND fetched_at < $2) AS misses
       FROM briefings b LEFT JOIN messages m ON m.id = b.message_id
       WHERE b.deliver_at >= $1 AND b.deliver_at < $2`,
      [day.from, day.to, LATE_AFTER_MINUTES],
    );
    const r = rows[0];
    return {
      sent: r.sent,
      late: r.late,
      skipped: r.skipped,
      failed: r.failed,
      enrichmentHits: r.hits,
      enrichmentMisses: r.misses,
    };
  }

  /**
   * Messages accepted on each of the CHART_DAYS local days ending with `day`, by status group;
   * every day and group is present (zeros included), oldest first.
   */
  async chartSeries(day: LocalDay): Promise<ChartPoint[]> {
    const first = shiftDate(day.localDate, -(CHART_DAYS - 1));
    const from = localDay(first, day.timeZone).from;
    const { rows } = await this.pool.query<{ day: string; status: string; n: number }>(
      `SELECT to_char(created_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, status::text AS status, count(*)::int AS n
       FROM messages WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2`,
      [from, day.to, day.timeZone],
    );
    const counts = new Map<string, number>();
    for (const row of rows) {
      const key = `${row.day}|${chartStatus(row.status)}`;
      counts.set(key, (counts.get(key) ?? 0) + row.n);
    }
    const points: ChartPoint[] = [];
    for (let i = 0; i < CHART_DAYS; i++) {
      const date = shiftDate(first, i);
      for (const status of CHART_STATUSES) {
        points.push({ day: date, status, count: counts.get(`${date}|${status}`) ?? 0 });
      }
    }
    return points;
  }
}
