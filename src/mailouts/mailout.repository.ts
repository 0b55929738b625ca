import type pg from 'pg';
import type { UserListKey } from '../settings/settings.repository.ts';
import type { LocalWindow } from '../shared/local-window.ts';
import type { MailoutView } from './mailout.schemas.ts';
import type { MailoutStatus } from './mailout-state.ts';

/** The /briefly settings key listing mailout managers (src/settings/settings.repository.ts). */
const MAILOUT_MANAGERS = 'mailout_managers' satisfies UserListKey;

export interface MailoutRow {
  id: string;
  name: string;
  text: string;
  starts_at: Date;
  ends_at: Date;
  operator_codes: string[];
  tags: string[];
  window_from: string | null;
  window_to: string | null;
  created_by: string;
  version: number;
  status: MailoutStatus;
  approved_version: number | null;
  approved_by: string | null;
  approved_at: Date | null;
  rejected_by: string | null;
  rejection_reason: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  deleted_at: Date | null;
  /** slack_posts keys of this mailout's approval/progress cards (one channel card or one DM per manager). */
  slack_cards: string[];
  created_at: Date;
  updated_at: Date;
}

export interface Mailout {
  id: number;
  row: MailoutRow;
  status: MailoutStatus;
  version: number;
  startsAt: Date;
  endsAt: Date;
  window: LocalWindow | null;
  text: string;
  deleted: boolean;
}

export const toMailout = (row: MailoutRow): Mailout => ({
  id: Number(row.id),
  row,
  status: row.status,
  version: row.version,
  startsAt: row.starts_at,
  endsAt: row.ends_at,
  window: row.window_from && row.window_to ? { from: row.window_from, to: row.window_to } : null,
  text: row.text,
  deleted: row.deleted_at !== null,
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const toMailoutView = (row: MailoutRow): MailoutView => ({
  id: Number(row.id),
  name: row.name,
  text: row.text,
  starts_at: row.starts_at.toISOString(),
  ends_at: row.ends_at.toISOString(),
  filter: { operator_codes: row.operator_codes, tags: row.tags },
  window: row.window_from && row.window_to ? { from: row.window_from, to: row.window_to } : null,
  created_by: row.created_by,
  version: row.version,
  status: row.status,
  approved_version: row.approved_version,
  approved_by: row.approved_by,
  approved_at: iso(row.approved_at),
  rejected_by: row.rejected_by,
  rejection_reason: row.rejection_reason,
  started_at: iso(row.started_at),
  ended_at: iso(row.ended_at),
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

/** Column values a guarded update may set (snake_case column -> value). */
export type MailoutChanges = Partial<Record<keyof MailoutRow, unknown>>;

export interface MessageRow {
  id: string;
  mailout_id: string;
  customer_id: string;
  phone: string | null;
  time_zone: string;
  operator_code: string;
  status: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date;
  created_at: Date;
  sent_at: Date | null;
}

export const toMessageView = (row: MessageRow) => ({
  id: Number(row.id),
  mailout_id: Number(row.mailout_id),
  customer_id: Number(row.customer_id),
  phone: row.phone,
  time_zone: row.time_zone,
  operator_code: row.operator_code,
  status: row.status as 'pending',
  attempts: row.attempts,
  last_error: row.last_error,
  next_attempt_at: row.next_attempt_at.toISOString(),
  created_at: row.created_at.toISOString(),
  sent_at: iso(row.sent_at),
});

const MATCH = `(cardinality($2::text[]) = 0 OR c.operator_code = ANY($2::text[]))
  AND (cardinality($3::text[]) = 0 OR c.tag = ANY($3::text[]))`;

export class MailoutRepository {
  constructor(readonly pool: pg.Pool) {}

  async insert(values: {
    name: string;
    text: string;
    startsAt: Date;
    endsAt: Date;
    operatorCodes: string[];
    tags: string[];
    window: LocalWindow | null;
    createdBy: string;
    status: MailoutStatus;
    /** Set when created already approved (a workspace without managers). */
    approvedBy?: string;
    approvedAt?: Date;
  }): Promise<MailoutRow> {
    const { rows } = await this.pool.query<MailoutRow>(
      `INSERT INTO mailouts (name, text, starts_at, ends_at, operator_codes, tags, window_from, window_to, created_by,
         status, approved_version, approved_by, approved_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::mailout_status, $11, $12, $13) RETURNING *`,
      [
        values.name,
        values.text,
        values.startsAt,
        values.endsAt,
        values.operatorCodes,
        values.tags,
        values.window?.from ?? null,
        values.window?.to ?? null,
        values.createdBy,
        values.status,
        values.approvedBy ? 1 : null,
        values.approvedBy ?? null,
        values.approvedAt ?? null,
      ],
    );
    return rows[0] as MailoutRow;
  }

  async get(id: number): Promise<MailoutRow | undefined> {
    const { rows } = await this.pool.query<MailoutRow>('SELECT * FROM mailouts WHERE id = $1', [id]);
    return rows[0];
  }

  /**
   * Applies `changes` only if the mailout is still in one of `from` (and at `version` when given):
   * the guard that makes every state change and edit race-free. Undefined when the guard failed.
   */
  async update(
    id: number,
    from: readonly MailoutStatus[],
    changes: MailoutChanges,
    options: { version?: number; bumpVersion?: boolean; client?: pg.PoolClient } = {},
  ): Promise<MailoutRow | undefined> {
    const values: unknown[] = [id, from];
    const sets = Object.entries(changes).map(([column, value]) => {
      values.push(value);
      return column === 'status'
        ? `status = $${values.length}::mailout_status`
        : `${column} = $${values.length}`;
    });
    if (options.bumpVersion) sets.push('version = version + 1');
    sets.push('updated_at = now()');
    let where = 'id = $1 AND status = ANY($2::mailout_status[]) AND deleted_at IS NULL';
    if (options.version !== undefined) {
      values.push(options.version);
      where += ` AND version = $${values.length}`;
    }
    const { rows } = await (options.client ?? this.pool).query<MailoutRow>(
      `UPDATE mailouts SET ${sets.join(', ')} WHERE ${where} RETURNING *`,
      values,
    );
    return rows[0];
  }

  async list(options: { status?: MailoutStatus; limit: number; before?: number }): Promise<MailoutRow[]> {
    const values: unknown[] = [options.limit];
    const where = ['deleted_at IS NULL'];
    if (options.status) {
      values.push(options.status);
      where.push(`status = $${values.length}::mailout_status`);
    }
    if (options.before !== undefined) {
      values.push(options.before);
      where.push(`id < $${values.length}`);
    }
    const { rows } = await this.pool.query<MailoutRow>(
      `SELECT * FROM mailouts WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $1`,
      values,
    );
    return rows;
  }

  /** Anyone who approves: a rep with the manager role, or a user chosen in /briefly settings. */
  async hasManagers(): Promise<boolean> {
    const { rows } = await this.pool.query(
      `SELECT 1 FROM reps WHERE role = 'manager'
       UNION ALL SELECT 1 FROM settings WHERE key = $1 AND jsonb_array_length(value) > 0 LIMIT 1`,
      [MAILOUT_MANAGERS],
    );
    return rows.length > 0;
  }

  /**
   * Whether an identity (Slack user id or rep id) is a mailout manager: chosen in /briefly settings
   * (as that Slack user, or the rep's Slack user), or a rep whose role is manager or admin.
   */
  async isManager(identity: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ yes: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM settings s WHERE s.key = $2 AND jsonb_exists(s.value, $1))
           OR EXISTS (SELECT 1 FROM reps r WHERE (r.slack_user_id = $1 OR r.id::text = $1)
                AND (r.role IN ('manager', 'admin')
                     OR EXISTS (SELECT 1 FROM settings s WHERE s.key = $2 AND jsonb_exists(s.value, r.slack_user_id))))
           AS yes`,
      [identity, MAILOUT_MANAGERS],
    );
    return rows[0]?.yes === true;
  }

  /** Slack user ids of the managers (settings list and reps with the manager role): who gets requests by DM. */
  async managerSlackIds(): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT jsonb_array_elements_text(value) AS id FROM settings WHERE key = $1
       UNION SELECT slack_user_id FROM reps WHERE role = 'manager' AND slack_user_id IS NOT NULL`,
      [MAILOUT_MANAGERS],
    );
    return rows.map((r) => r.id).sort();
  }

  async setSlackCards(id: number, keys: string[]): Promise<void> {
    await this.pool.query('UPDATE mailouts SET slack_cards = $2 WHERE id = $1', [id, keys]);
  }

  /** Newest first, optionally only one author's or some statuses. */
  async recent(options: {
    createdBy?: string;
    statuses?: MailoutStatus[];
    limit: number;
  }): Promise<MailoutRow[]> {
    const { rows } = await this.pool.query<MailoutRow>(
      `SELECT * FROM mailouts WHERE deleted_at IS NULL
         AND ($1::text IS NULL OR created_by = $1)
         AND ($2::mailout_status[] IS NULL OR status = ANY($2::mailout_status[]))
       ORDER BY id DESC LIMIT $3`,
      [options.createdBy ?? null, options.statuses ?? null, options.limit],
    );
    return rows;
  }

  /** Counts by status and the first/last send: what a progress card shows (one scan of the mailout). */
  async progress(
    mailoutId: number,
  ): Promise<{ counts: Record<string, number>; first: Date | null; last: Date | null }> {
    const { rows } = await this.pool.query<{
      status: string;
      n: number;
      first: Date | null;
      last: Date | null;
    }>(
      `SELECT status::text, count(*)::int AS n, min(sent_at) AS first, max(sent_at) AS last
       FROM mailout_messages WHERE mailout_id = $1 GROUP BY status`,
      [mailoutId],
    );
    const sent = rows.find((r) => r.status === 'sent');
    return {
      counts: Object.fromEntries(rows.map((r) => [r.status, r.n])),
      first: sent?.first ?? null,
      last: sent?.last ?? null,
    };
  }

  /** Sent and total messages of several mailouts (lists). */
  async sentAndTotal(ids: number[]): Promise<Map<number, { sent: number; total: number }>> {
    const { rows } = await this.pool.query<{ id: string; sent: number; total: number }>(
      `SELECT mailout_id AS id, count(*) FILTER (WHERE status = 'sent')::int AS sent, count(*)::int AS total
       FROM mailout_messages WHERE mailout_id = ANY($1::bigint[]) GROUP BY mailout_id`,
      [ids],
    );
    return new Map(rows.map((r) => [Number(r.id), { sent: r.sent, total: r.total }]));
  }

  async runningIds(): Promise<number[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM mailouts WHERE status = 'running' AND deleted_at IS NULL`,
    );
    return rows.map((r) => Number(r.id));
  }

  /**
   * Values of one customer column with their counts, most customers first, optionally those
   * starting with `prefix`. Fetch one more than you show to know whether there are more.
   */
  async filterValues(
    column: 'operator_code' | 'tag',
    options: { prefix?: string; limit: number },
  ): Promise<{ value: string; count: number }[]> {
    const { rows } = await this.pool.query<{ value: string; count: number }>(
      `SELECT ${column} AS value, count(*)::int AS count FROM customers
       WHERE ${column} IS NOT NULL AND ($1 = '' OR ${column} ILIKE replace(replace($1, '%', '\\%'), '_', '\\_') || '%')
       GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $2`,
      [options.prefix ?? '', options.limit],
    );
    return rows;
  }

  /** A few matching customers, and the audience by operator code. */
  async audienceDetail(filter: { operatorCodes: string[]; tags: string[] }, sampleSize: number) {
    const where = MATCH.replaceAll('$2', '$1').replaceAll('$3', '$2');
    const [sample, byOperator] = await Promise.all([
      this.pool.query<{ phone: string; operator_code: string; tag: string | null; time_zone: string }>(
        `SELECT c.phone, c.operator_code, c.tag, c.time_zone FROM customers c WHERE ${where} ORDER BY c.id LIMIT $3`,
        [filter.operatorCodes, filter.tags, sampleSize],
      ),
      this.pool.query<{ operator_code: string; count: number }>(
        `SELECT c.operator_code, count(*)::int AS count FROM customers c WHERE ${where}
         GROUP BY 1 ORDER BY 2 DESC, 1`,
        [filter.operatorCodes, filter.tags],
      ),
    ]);
    return { sample: sample.rows, byOperator: byOperator.rows };
  }

  /** The rep an identity names (Slack user id or rep id), with its role. */
  async findRep(
    identity: string,
  ): Promise<{ id: string; role: string; slack_user_id: string | null } | undefined> {
    const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(identity);
    const { rows } = await this.pool.query<{ id: string; role: string; slack_user_id: string | null }>(
      `SELECT id, role::text AS role, slack_user_id FROM reps WHERE ${isUuid ? 'id = $1::uuid' : 'slack_user_id = $1'}`,
      [identity],
    );
    return rows[0];
  }

  /** Matching customers: total, by time zone. */
  async audience(filter: {
    operatorCodes: string[];
    tags: string[];
  }): Promise<{ time_zone: string; count: number }[]> {
    const { rows } = await this.pool.query<{ time_zone: string; count: number }>(
      `SELECT c.time_zone, count(*)::int AS count FROM customers c WHERE ${MATCH.replaceAll('$2', '$1').replaceAll('$3', '$2')}
       GROUP BY c.time_zone ORDER BY count DESC, c.time_zone`,
      [filter.operatorCodes, filter.tags],
    );
    return rows;
  }

  /**
   * The fan-out: every matching customer becomes a pending message in one set-based statement.
   * Unique (mailout_id, customer_id) makes a retried fan-out add nothing twice.
   */
  async fanOut(client: pg.PoolClient, mailout: MailoutRow): Promise<number> {
    const result = await client.query(
      `INSERT INTO mailout_messages (mailout_id, customer_id, time_zone, operator_code)
       SELECT $1, c.id, c.time_zone, c.operator_code FROM customers c WHERE ${MATCH}
       ON CONFLICT (mailout_id, customer_id) DO NOTHING`,
      [mailout.id, mailout.operator_codes, mailout.tags],
    );
    return result.rowCount ?? 0;
  }

  async addMessage(mailoutId: number, customerId: number): Promise<{ row?: MessageRow; created: boolean }> {
    const { rows } = await this.pool.query<MessageRow>(
      `INSERT INTO mailout_messages (mailout_id, customer_id, time_zone, operator_code)
       SELECT $1, c.id, c.time_zone, c.operator_code FROM customers c WHERE c.id = $2
       ON CONFLICT (mailout_id, customer_id) DO NOTHING RETURNING *, NULL::text AS phone`,
      [mailoutId, customerId],
    );
    if (rows[0]) return { row: rows[0], created: true };
    const existing = await this.pool.query<MessageRow>(
      `SELECT m.*, c.phone FROM mailout_messages m LEFT JOIN customers c ON c.id = m.customer_id
       WHERE m.mailout_id = $1 AND m.customer_id = $2`,
      [mailoutId, customerId],
    );
    return { row: existing.rows[0], created: false };
  }

  /** Zones that still have pending messages, with the earliest retry time in each. */
  async pendingZones(mailoutId: number): Promise<{ time_zone: string; next_attempt_at: Date }[]> {
    const { rows } = await this.pool.query<{ time_zone: string; next_attempt_at: Date }>(
      `SELECT time_zone, min(next_attempt_at) AS next_attempt_at FROM mailout_messages
       WHERE mailout_id = $1 AND status = 'pending' GROUP BY time_zone`,
      [mailoutId],
    );
    return rows;
  }

  async nextAttemptInZone(mailoutId: number, zone: string): Promise<Date | undefined> {
    const { rows } = await this.pool.query<{ at: Date | null }>(
      `SELECT min(next_attempt_at) AS at FROM mailout_messages
       WHERE mailout_id = $1 AND time_zone = $2 AND status = 'pending'`,
      [mailoutId, zone],
    );
    return rows[0]?.at ?? undefined;
  }

  /** Ends pending messages (of one zone, or all) with a final status and reason. */
  async closePending(
    mailoutId: number,
    status: 'expired' | 'cancelled',
    reason: string,
    zone?: string,
  ): Promise<number> {
    const result = await this.pool.query(
      `UPDATE mailout_messages SET status = $2::mailout_message_status,
         last_error = coalesce(last_error || ' / ', '') || $3, updated_at = now()
       WHERE mailout_id = $1 AND status = 'pending' ${zone ? 'AND time_zone = $4' : ''}`,
      zone ? [mailoutId, status, reason, zone] : [mailoutId, status, reason],
    );
    return result.rowCount ?? 0;
  }

  /**
   * running -> finished (or expired if some messages expired) once nothing is pending. Returns the
   * new status, or undefined if there is still work (or it was not running).
   */
  async completeIfDone(mailoutId: number): Promise<MailoutStatus | undefined> {
    const { rows } = await this.pool.query<{ status: MailoutStatus }>(
      `UPDATE mailouts SET status = (CASE WHEN EXISTS (
           SELECT 1 FROM mailout_messages WHERE mailout_id = $1 AND status = 'expired') THEN 'expired' ELSE 'finished' END
         )::mailout_status, ended_at = now(), updated_at = now()
       WHERE id = $1 AND status = 'running'
         AND NOT EXISTS (SELECT 1 FROM mailout_messages WHERE mailout_id = $1 AND status = 'pending')
       RETURNING status`,
      [mailoutId],
    );
    return rows[0]?.status;
  }

  async countsByStatus(mailoutId: number): Promise<Record<string, number>> {
    const { rows } = await this.pool.query<{ status: string; n: number }>(
      `SELECT status::text, count(*)::int AS n FROM mailout_messages WHERE mailout_id = $1 GROUP BY status`,
      [mailoutId],
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async allCounts(): Promise<
    { id: string; name: string; status: MailoutStatus; counts: Record<string, number> }[]
  > {
    const { rows } = await this.pool.query<{
      id: string;
      name: string;
      status: MailoutStatus;
      counts: Record<string, number> | null;
    }>(
      `SELECT m.id, m.name, m.status, s.counts FROM mailouts m
       LEFT JOIN LATERAL (
         SELECT jsonb_object_agg(status, n) AS counts FROM (
           SELECT status::text, count(*)::int AS n FROM mailout_messages WHERE mailout_id = m.id GROUP BY status
         ) g
       ) s ON true
       WHERE m.deleted_at IS NULL ORDER BY m.id DESC`,
    );
    return rows.map((r) => ({ ...r, counts: r.counts ?? {} }));
  }

  /** Message counts by status of the given mailouts (a page of the list), by mailout id. */
  async countsFor(ids: number[]): Promise<Map<number, Record<string, number>>> {
    const { rows } = await this.pool.query<{ mailout_id: string; counts: Record<string, number> }>(
      `SELECT mailout_id, jsonb_object_agg(status, n) AS counts FROM (
         SELECT mailout_id, status::text, count(*)::int AS n FROM mailout_messages
         WHERE mailout_id = ANY($1::bigint[]) GROUP BY 1, 2
       ) g GROUP BY mailout_id`,
      [ids],
    );
    return new Map(rows.map((r) => [Number(r.mailout_id), r.counts]));
  }

  async stats(mailoutId: number) {
    const q = <T extends pg.QueryResultRow>(sql: string) =>
      this.pool.query<T>(sql, [mailoutId]).then((r) => r.rows);
    const [byOperator, byZone, byHour, errors, sent] = await Promise.all([
      q<{ key: string; status: string; n: number }>(
        `SELECT operator_code AS key, status::text, count(*)::int AS n FROM mailout_messages WHERE mailout_id = $1 GROUP BY 1, 2`,
      ),
      q<{ key: string; status: string; n: number }>(
        `SELECT time_zone AS key, status::text, count(*)::int AS n FROM mailout_messages WHERE mailout_id = $1 GROUP BY 1, 2`,
      ),
      q<{ hour: Date; n: number }>(
        `SELECT date_trunc('hour', sent_at) AS hour, count(*)::int AS n FROM mailout_messages
         WHERE mailout_id = $1 AND status = 'sent' GROUP BY 1 ORDER BY 1`,
      ),
      q<{ reason: string; n: number }>(
        `SELECT last_error AS reason, count(*)::int AS n FROM mailout_messages
         WHERE mailout_id = $1 AND last_error IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 50`,
      ),
      q<{ first: Date | null; last: Date | null; n: number }>(
        `SELECT min(sent_at) AS first, max(sent_at) AS last, count(*)::int AS n FROM mailout_messages
         WHERE mailout_id = $1 AND status = 'sent'`,
      ),
    ]);
    return { byOperator, byZone, byHour, errors, sent: sent[0] };
  }

  async messages(
    mailoutId: number,
    options: { status?: string; limit: number; after?: number },
  ): Promise<MessageRow[]> {
    const values: unknown[] = [mailoutId, options.limit];
    const where = ['m.mailout_id = $1'];
    if (options.status) {
      values.push(options.status);
      where.push(`m.status = $${values.length}::mailout_message_status`);
    }
    if (options.after !== undefined) {
      values.push(options.after);
      where.push(`m.id > $${values.length}`);
    }
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT m.*, c.phone FROM mailout_messages m LEFT JOIN customers c ON c.id = m.customer_id
       WHERE ${where.join(' AND ')} ORDER BY m.id LIMIT $2`,
      values,
    );
    return rows;
  }

  async message(mailoutId: number, messageId: number) {
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT m.*, c.phone FROM mailout_messages m LEFT JOIN customers c ON c.id = m.customer_id
       WHERE m.mailout_id = $1 AND m.id = $2`,
      [mailoutId, messageId],
    );
    if (!rows[0]) return undefined;
    const attempts = await this.pool.query<{
      at: Date;
      status_code: number | null;
      latency_ms: number;
      outcome: string;
      error: string | null;
    }>(
      `SELECT at, status_code, latency_ms, outcome, error FROM mailout_message_attempts WHERE message_id = $1 ORDER BY at, id`,
      [messageId],
    );
    return { row: rows[0], attempts: attempts.rows };
  }

  /** Running mailouts (for the tick) and scheduled ones whose start has come. */
  async due(now: Date): Promise<MailoutRow[]> {
    const { rows } = await this.pool.query<MailoutRow>(
      `SELECT * FROM mailouts WHERE deleted_at IS NULL AND (status = 'running'
         OR (status = 'scheduled' AND starts_at <= $1) OR (status IN ('paused', 'pending_approval') AND ends_at <= $1))`,
      [now],
    );
    return rows;
  }

  async pendingBacklog(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM mailout_messages mm JOIN mailouts m ON m.id = mm.mailout_id
       WHERE mm.status = 'pending' AND m.status = 'running'`,
    );
    return rows[0]?.n ?? 0;
  }

  /** Retention: message rows (and their attempts) of mailouts that ended before the cutoff. */
}
