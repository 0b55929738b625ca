import type pg from 'pg';
import { type AuditEntry, recordAudit } from '../audit/audit.repository.ts';
import { inTransaction } from '../db/client.ts';
import type { AppointmentStatus, Conflict } from './appointment.schemas.ts';
import type { Attendee } from './appointment.tables.ts';

export interface ServiceRow {
  id: string;
  name: string;
  description: string;
  duration_minutes: number;
  buffer_minutes: number;
  reminder_minutes: number[];
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface AppointmentRow {
  id: string;
  rep_id: string;
  service_id: string;
  attendee: Attendee;
  starts_at: Date;
  ends_at: Date;
  buffer_minutes: number;
  location: string | null;
  status: AppointmentStatus;
  cancel_reason: string | null;
  sequence: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface NoteRow {
  id: string;
  appointment_id: string;
  title: string;
  body: string;
  created_at: Date;
  updated_at: Date;
}

export type MailType = 'confirmation' | 'update' | 'cancellation';

export interface MailRow {
  id: string;
  appointment_id: string;
  sequence: number;
  type: MailType;
  done_at: Date | null;
}

/** What a write stores with the appointment: the outbox mail it owes and its audit row. */
interface WriteEffects {
  mail?: MailType;
  audit: AuditEntry;
}

const SERVICE_COLUMNS: Record<string, string> = {
  name: 'name',
  description: 'description',
  duration_minutes: 'duration_minutes',
  buffer_minutes: 'buffer_minutes',
  reminder_minutes: 'reminder_minutes',
  active: 'active',
};

/** Raw SQL: conflict checks and the outbox row must share the write's transaction and lock. */
export class AppointmentRepository {
  constructor(private readonly pool: pg.Pool) {}

  // --- services

  async createService(
    values: Omit<ServiceRow, 'id' | 'created_at' | 'updated_at'>,
    audit: (row: ServiceRow) => AuditEntry,
  ) {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<ServiceRow>(
        `INSERT INTO services (name, description, duration_minutes, buffer_minutes, reminder_minutes, active)
         VALUES ($1, $2, $3, $4, $5::int[], $6) RETURNING *`,
        [
          values.name,
          values.description,
          values.duration_minutes,
          values.buffer_minutes,
          values.reminder_minutes,
          values.active,
        ],
      );
      const row = rows[0] as ServiceRow;
      await recordAudit(client, audit(row));
      return row;
    });
  }

  async updateService(
    id: string,
    values: Partial<ServiceRow>,
    audit: AuditEntry,
  ): Promise<ServiceRow | undefined> {
    return inTransaction(this.pool, async (client) => {
      const sets: string[] = [];
      const params: unknown[] = [id];
      for (const [field, column] of Object.entries(SERVICE_COLUMNS)) {
        const value = (values as Record<string, unknown>)[field];
        if (value === undefined) continue;
        params.push(value);
        sets.push(`${column} = $${params.length}${column === 'reminder_minutes' ? '::int[]' : ''}`);
      }
      sets.push('updated_at = now()');
      const { rows } = await client.query<ServiceRow>(
        `UPDATE services SET ${sets.join(', ')} WHERE id = $1 RETURNING *`,
        params,
      );
      if (rows[0]) await recordAudit(client, audit);
      return rows[0];
    });
  }

  /** A service with appointments is deactivated instead of deleted (they keep referring to it). */
  async deleteService(id: string, audit: AuditEntry): Promise<'deleted' | 'deactivated' | undefined> {
    return inTransaction(this.pool, async (client) => {
      const used = await client.query('SELECT 1 FROM appointments WHERE service_id = $1 LIMIT 1', [id]);
      const result = used.rowCount
        ? await client.query('UPDATE services SET active = false, updated_at = now() WHERE id = $1', [id])
        : await client.query('DELETE FROM services WHERE id = $1', [id]);
      if (!result.rowCount) return undefined;
      await recordAudit(client, audit);
      return used.rowCount ? 'deactivated' : 'deleted';
    });
  }

  async getService(id: string): Promise<ServiceRow | undefined> {
    const { rows } = await this.pool.query<ServiceRow>('SELECT * FROM services WHERE id = $1', [id]);
    return rows[0];
  }

  async listServices(activeOnly = false): Promise<ServiceRow[]> {
    const { rows } = await this.pool.query<ServiceRow>(
      `SELECT * FROM services ${activeOnly ? 'WHERE active' : ''} ORDER BY name, id LIMIT 500`,
    );
    return rows;
  }

  // --- appointments

  async get(id: string): Promise<AppointmentRow | undefined> {
    const { rows } = await this.pool.query<AppointmentRow>('SELECT * FROM appointments WHERE id = $1', [id]);
    return rows[0];
  }

  /**
   * Inserts (or updates) an appointment with its outbox mail and audit row, after taking the rep's
   * lock and looking for conflicts: two concurrent bookings of one rep cannot both pass the check.
   * Returns the conflicts instead of writing when there are some and overlap is not allowed.
   */
  async write(
    input: {
      id?: string;
      repId: string;
      allowOverlap: boolean;
      startsAt: Date;
      endsAt: Date;
      bufferMinutes: number;
      /** Runs under the lock; returns the row written (undefined: not found). */
      apply(client: pg.PoolClient): Promise<AppointmentRow | undefined>;
      checkConflicts: boolean;
    },
    effects: (row: AppointmentRow) => WriteEffects,
  ): Promise<{ row?: AppointmentRow; conflicts: Conflict[]; mail?: MailRow }> {
    return inTransaction(this.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`appointments:${input.repId}`]);
      if (input.checkConflicts && !input.allowOverlap) {
        const conflicts = await this.conflicts(client, input);
        if (conflicts.length > 0) return { conflicts };
      }
      const row = await input.apply(client);
      if (!row) return { conflicts: [] };
      const effect = effects(row);
      let mail: MailRow | undefined;
      if (effect.mail) {
        const inserted = await client.query<MailRow>(
          `INSERT INTO appointment_mails (appointment_id, sequence, type) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING id, appointment_id, sequence, type, done_at`,
          [row.id, row.sequence, effect.mail],
        );
        mail = inserted.rows[0];
      }
      await recordAudit(client, effect.audit);
      return { row, conflicts: [], mail };
    });
  }

  /** Booked appointments of the rep and busy events of the rep's synced calendars that overlap. */
  private async conflicts(
    client: pg.PoolClient,
    input: { id?: string; repId: string; startsAt: Date; endsAt: Date; bufferMinutes: number },
  ): Promise<Conflict[]> {
    const { rows } = await client.query<{
      kind: Conflict['kind'];
      id: string;
      title: string;
      s: Date;
      e: Date;
    }>(
      `SELECT 'appointment' AS kind, a.id::text AS id, s.name || ' with ' || (a.attendee->>'name') AS title,
              a.starts_at AS s, a.ends_at AS e
         FROM appointments a JOIN services s ON s.id = a.service_id
        WHERE a.rep_id = $1 AND a.status = 'booked' AND a.id IS DISTINCT FROM $2::uuid
          AND a.starts_at < $4::timestamptz + make_interval(mins => $5)
          AND $3::timestamptz < a.ends_at + make_interval(mins => a.buffer_minutes)
       UNION ALL
       SELECT 'calendar_event', e.external_id, e.title, e.starts_at, e.ends_at
         FROM calendar_events e
        WHERE e.rep_id = $1 AND NOT e.all_day AND e.status <> 'cancelled'
          AND coalesce(e.self_response, 'accepted') <> 'declined'
          AND e.starts_at < $4::timestamptz AND $3::timestamptz < e.ends_at
       ORDER BY s LIMIT 20`,
      [input.repId, input.id ?? null, input.startsAt, input.endsAt, input.bufferMinutes],
    );
    return rows.map((r) => ({
      kind: r.kind,
      id: r.id,
      title: r.title,
      start: r.s.toISOString(),
      end: r.e.toISOString(),
    }));
  }

  async list(filter: {
    repId?: string;
    serviceId?: string;
    status?: string;
    from?: Date;
    to?: Date;
    after?: { start: Date; id: string };
    limit: number;
  }): Promise<AppointmentRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, ...values: unknown[]) => {
      params.push(...values);
      where.push(sql.replace(/\$(\d)/g, (_, n) => `$${params.length - values.length + Number(n)}`));
    };
    if (filter.repId) add('rep_id = $1', filter.repId);
    if (filter.serviceId) add('service_id = $1', filter.serviceId);
    if (filter.status) add('status = $1', filter.status);
    if (filter.from) add('ends_at > $1', filter.from);
    if (filter.to) add('starts_at < $1', filter.to);
    if (filter.after) add('(starts_at, id) > ($1, $2::uuid)', filter.after.start, filter.after.id);
    params.push(filter.limit);
    const { rows } = await this.pool.query<AppointmentRow>(
      `SELECT * FROM appointments ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY starts_at, id LIMIT $${params.length}`,
      params,
    );
    return rows;
  }

  // --- outbox

  async mail(id: string): Promise<MailRow | undefined> {
    const { rows } = await this.pool.query<MailRow>('SELECT * FROM appointment_mails WHERE id = $1', [id]);
    return rows[0];
  }

  async markMailDone(id: string): Promise<void> {
    await this.pool.query('UPDATE appointment_mails SET done_at = now() WHERE id = $1 AND done_at IS NULL', [
      id,
    ]);
  }

  async pendingMails(olderThan: Date, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      'SELECT id FROM appointment_mails WHERE done_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2',
      [olderThan, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Booked appointments starting in (from, to]: their reminders are re-enqueued by the sweep. */
  async bookedStartingBetween(from: Date, to: Date, limit: number): Promise<AppointmentRow[]> {
    const { rows } = await this.pool.query<AppointmentRow>(
      `SELECT * FROM appointments WHERE status = 'booked' AND starts_at > $1 AND starts_at <= $2
       ORDER BY starts_at LIMIT $3`,
      [from, to, limit],
    );
    return rows;
  }

  // --- notes

  async notes(appointmentId: string): Promise<NoteRow[]> {
    const { rows } = await this.pool.query<NoteRow>(
      'SELECT * FROM appointment_notes WHERE appointment_id = $1 ORDER BY created_at, id LIMIT 200',
      [appointmentId],
    );
    return rows;
  }

  async notesFor(appointmentIds: string[]): Promise<NoteRow[]> {
    if (appointmentIds.length === 0) return [];
    const { rows } = await this.pool.query<NoteRow>(
      'SELECT * FROM appointment_notes WHERE appointment_id = ANY($1::uuid[]) ORDER BY created_at, id',
      [appointmentIds],
    );
    return rows;
  }

  async note(appointmentId: string, id: string): Promise<NoteRow | undefined> {
    const { rows } = await this.pool.query<NoteRow>(
      'SELECT * FROM appointment_notes WHERE appointment_id = $1 AND id = $2',
      [appointmentId, id],
    );
    return rows[0];
  }

  async createNote(appointmentId: string, title: string, body: string, audit: AuditEntry): Promise<NoteRow> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<NoteRow>(
        'INSERT INTO appointment_notes (appointment_id, title, body) VALUES ($1, $2, $3) RETURNING *',
        [appointmentId, title, body],
      );
      const row = rows[0] as NoteRow;
      await recordAudit(client, { ...audit, details: { ...audit.details, note_id: row.id } });
      return row;
    });
  }

  async updateNote(
    appointmentId: string,
    id: string,
    values: { title?: string; body?: string },
    audit: AuditEntry,
  ) {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<NoteRow>(
        `UPDATE appointment_notes SET title = coalesce($3, title), body = coalesce($4, body), updated_at = now()
         WHERE appointment_id = $1 AND id = $2 RETURNING *`,
        [appointmentId, id, values.title ?? null, values.body ?? null],
      );
      if (rows[0]) await recordAudit(client, audit);
      return rows[0];
    });
  }

  async deleteNote(appointmentId: string, id: string, audit: AuditEntry): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const result = await client.query(
        'DELETE FROM appointment_notes WHERE appointment_id = $1 AND id = $2',
        [appointmentId, id],
      );
      if (result.rowCount) await recordAudit(client, audit);
      return Boolean(result.rowCount);
    });
  }
}
