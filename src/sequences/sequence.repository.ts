import type { Readable } from 'node:stream';
import type pg from 'pg';
import { type AuditEntry, recordAudit } from '../audit/audit.repository.ts';
import { inTransaction } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { type ContactImportFormat, importContacts } from './contact-import.ts';
import type {
  CreateContact,
  CreateMailbox,
  CreateSequence,
  StepInput,
  UpdateContact,
  UpdateMailbox,
  UpdateSequence,
} from './sequence.schemas.ts';

/** A row as pg returns it (raw SQL); the to* functions below give it its API shape. */
// biome-ignore lint/suspicious/noExplicitAny: pg rows are untyped; each mapper names the columns it reads.
type Row = Record<string, any>;

const iso = (value: Date | null) => (value ? value.toISOString() : null);

export function toMailbox(r: Row) {
  return {
    id: r.id,
    email: r.email,
    display_name: r.display_name,
    daily_limit: r.daily_limit,
    warmup:
      r.warmup_start_limit == null
        ? null
        : {
            start_limit: r.warmup_start_limit,
            daily_increase: r.warmup_daily_increase,
            started_at: iso(r.warmup_started_at) as string,
          },
    status: r.status,
    paused_reason: r.paused_reason,
    created_at: iso(r.created_at) as string,
  };
}

export function toContact(r: Row) {
  return {
    id: r.id,
    email: r.email,
    first_name: r.first_name,
    last_name: r.last_name,
    company: r.company,
    time_zone: r.time_zone,
    fields: r.fields,
    created_at: iso(r.created_at) as string,
  };
}

export function toEnrollment(r: Row) {
  return {
    id: r.id,
    sequence_id: r.sequence_id,
    contact_id: r.contact_id,
    mailbox_id: r.mailbox_id,
    current_step: r.current_step,
    last_sent_at: iso(r.last_sent_at),
    next_send_at: iso(r.next_send_at),
    planned_at: iso(r.planned_at),
    status: r.status,
    stopped_reason: r.stopped_reason,
  };
}

const uniqueViolation = (error: unknown) => (error as { code?: string }).code === '23505';

/** Raw SQL over the sequence tables; every write takes its audit row in the same transaction. */
export class SequenceRepository {
  constructor(readonly pool: pg.Pool) {}

  private async write<T>(fn: (c: pg.PoolClient) => Promise<T>, audit: (r: T) => AuditEntry | undefined) {
    return inTransaction(this.pool, async (client) => {
      const result = await fn(client);
      const entry = audit(result);
      if (entry) await recordAudit(client, entry);
      return result;
    });
  }

  // ---------------- mailboxes
  async createMailbox(input: CreateMailbox, actor: string, now: Date = new Date()) {
    try {
      return await this.write(
        async (c) =>
          (
            await c.query(
              `INSERT INTO mailboxes (email, display_name, daily_limit, warmup_start_limit, warmup_daily_increase,
                 warmup_started_at, status)
               VALUES ($1, $2, $3, $4, $5, CASE WHEN $4::int IS NULL THEN NULL ELSE $7::timestamptz END, $6) RETURNING *`,
              [
                input.email,
                input.display_name,
                input.daily_limit,
                input.warmup?.start_limit ?? null,
                input.warmup?.daily_increase ?? null,
                input.status,
                now,
              ],
            )
          ).rows[0],
        (r) => ({ actor, action: 'mailbox.create', subject: r.id }),
      );
    } catch (error) {
      if (uniqueViolation(error)) throw conflict('email', `A mailbox ${input.email} already exists`);
      throw error;
    }
  }

  async listMailboxes() {
    return (await this.pool.query('SELECT * FROM mailboxes ORDER BY email')).rows;
  }

  async getMailbox(id: string) {
    const row = (await this.pool.query('SELECT * FROM mailboxes WHERE id = $1', [id])).rows[0];
    if (!row) throw AppError.notFound('Mailbox', id);
    return row;
  }

  async updateMailbox(id: string, input: UpdateMailbox, actor: string, now: Date = new Date()) {
    await this.getMailbox(id);
    const sets: string[] = [];
    const params: unknown[] = [id];
    const set = (column: string, value: unknown) => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (input.email !== undefined) set('email', input.email);
    if (input.display_name !== undefined) set('display_name', input.display_name);
    if (input.daily_limit !== undefined) set('daily_limit', input.daily_limit);
    if (input.status !== undefined) {
      set('status', input.status);
      if (input.status === 'active') sets.push('paused_reason = NULL');
    }
    if (input.warmup !== undefined) {
      set('warmup_start_limit', input.warmup?.start_limit ?? null);
      set('warmup_daily_increase', input.warmup?.daily_increase ?? null);
      params.push(now);
      sets.push(
        `warmup_started_at = CASE WHEN $${params.length - 2}::int IS NULL THEN NULL ELSE coalesce(warmup_started_at, $${params.length}::timestamptz) END`,
      );
    }
    sets.push('updated_at = now()');
    try {
      return await this.write(
        async (c) =>
          (await c.query(`UPDATE mailboxes SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params))
            .rows[0],
        () => ({ actor, action: 'mailbox.update', subject: id, details: { fields: Object.keys(input) } }),
      );
    } catch (error) {
      if (uniqueViolation(error)) throw conflict('email', `A mailbox ${input.email} already exists`);
      throw error;
    }
  }

  async deleteMailbox(id: string, actor: string) {
    await this.getMailbox(id);
    try {
      await this.write(
        (c) => c.query('DELETE FROM mailboxes WHERE id = $1', [id]),
        () => ({ actor, action: 'mailbox.delete', subject: id }),
      );
    } catch (error) {
      if ((error as { code?: string }).code === '23503')
        throw new AppError('conflict', `Mailbox ${id} sends for a sequence or enrollment; pause it instead`);
      throw error;
    }
  }

  // ---------------- contacts
  /** Inserts contacts; an email already stored is reported, not overwritten. */
  async createContacts(inputs: CreateContact[], actor: string) {
    return this.write(
      async (c) => {
        const { rows } = await c.query(
          `INSERT INTO contacts (email, first_name, last_name, company, time_zone, fields)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
           ON CONFLICT DO NOTHING RETURNING *`,
          [
            inputs.map((i) => i.email),
            inputs.map((i) => i.first_name),
            inputs.map((i) => i.last_name),
            inputs.map((i) => i.company),
            inputs.map((i) => i.time_zone ?? null),
            inputs.map((i) => JSON.stringify(i.fields)),
          ],
        );
        const created = new Set(rows.map((r) => r.email.toLowerCase()));
        return {
          created: rows,
          existing: inputs.map((i) => i.email).filter((e) => !created.has(e.toLowerCase())),
        };
      },
      (r) =>
        r.created.length
          ? { actor, action: 'contact.create', details: { count: r.created.length } }
          : undefined,
    );
  }

  /** A streamed CSV/NDJSON import (see importContacts): bad rows reported, good ones stored. */
  importContacts(input: Readable, format: ContactImportFormat, actor: string) {
    return importContacts(this.pool, input, format, actor);
  }

  async listContacts(limit: number, after?: string) {
    return (
      await this.pool.query(
        'SELECT * FROM contacts WHERE ($1::text IS NULL OR email > $1) ORDER BY email LIMIT $2',
        [after ?? null, limit],
      )
    ).rows;
  }

  async getContact(id: string) {
    const row = (await this.pool.query('SELECT * FROM contacts WHERE id = $1', [id])).rows[0];
    if (!row) throw AppError.notFound('Contact', id);
    return row;
  }

  async contactsByEmail(emails: string[]) {
    return (
      await this.pool.query('SELECT * FROM contacts WHERE lower(email) = ANY($1::text[])', [
        emails.map((e) => e.toLowerCase()),
      ])
    ).rows;
  }

  async updateContact(id: string, input: UpdateContact, actor: string) {
    const current = await this.getContact(id);
    const next = { ...toContact(current), ...input };
    try {
      return await this.write(
        async (c) =>
          (
            await c.query(
              `UPDATE contacts SET email = $2, first_name = $3, last_name = $4, company = $5, time_zone = $6,
                 fields = $7, updated_at = now() WHERE id = $1 RETURNING *`,
              [
                id,
                next.email,
                next.first_name,
                next.last_name,
                next.company,
                next.time_zone,
                JSON.stringify(next.fields),
              ],
            )
          ).rows[0],
        () => ({ actor, action: 'contact.update', subject: id, details: { fields: Object.keys(input) } }),
      );
    } catch (error) {
      if (uniqueViolation(error)) throw conflict('email', `A contact ${input.email} already exists`);
      throw error;
    }
  }

  async deleteContact(id: string, actor: string) {
    await this.getContact(id);
    await this.write(
      (c) => c.query('DELETE FROM contacts WHERE id = $1', [id]),
      () => ({ actor, action: 'contact.delete', subject: id }),
    );
  }

  // ---------------- sequences
  async getSequence(id: string, client: pg.ClientBase | pg.Pool = this.pool) {
    const row = (await client.query('SELECT * FROM sequences WHERE id = $1', [id])).rows[0];
    if (!row) throw AppError.notFound('Sequence', id);
    const [steps, mailboxIds] = await Promise.all([
      client.query('SELECT * FROM sequence_steps WHERE sequence_id = $1 ORDER BY step', [id]),
      client.query('SELECT mailbox_id FROM sequence_mailboxes WHERE sequence_id = $1 ORDER BY mailbox_id', [
        id,
      ]),
    ]);
    return toSequence(
      row,
      steps.rows,
      mailboxIds.rows.map((r) => r.mailbox_id),
    );
  }

  async listSequences() {
    const { rows } = await this.pool.query('SELECT id FROM sequences ORDER BY created_at, id');
    return Promise.all(rows.map((r) => this.getSequence(r.id)));
  }

  private async checkMailboxes(c: pg.ClientBase, ids: string[]) {
    if (!ids.length) return;
    const { rows } = await c.query('SELECT id FROM mailboxes WHERE id = ANY($1::uuid[])', [ids]);
    const known = new Set(rows.map((r) => r.id));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length)
      throw AppError.validation([
        { field: 'mailbox_ids', message: `unknown mailbox ids: ${unknown.join(', ')}` },
      ]);
  }

  private async replaceSteps(c: pg.ClientBase, id: string, steps: StepInput[]) {
    await c.query('DELETE FROM sequence_steps WHERE sequence_id = $1', [id]);
    if (!steps.length) return;
    await c.query(
      `INSERT INTO sequence_steps (sequence_id, step, delay_days, subject, body)
       SELECT $1, s.n, s.d, s.subj, s.body FROM unnest($2::int[], $3::int[], $4::text[], $5::text[]) AS s(n, d, subj, body)`,
      [
        id,
        steps.map((_, i) => i + 1),
        steps.map((s) => s.delay_days),
        steps.map((s) => s.subject),
        steps.map((s) => s.body),
      ],
    );
  }

  private async replaceMailboxes(c: pg.ClientBase, id: string, ids: string[]) {
    await this.checkMailboxes(c, ids);
    await c.query('DELETE FROM sequence_mailboxes WHERE sequence_id = $1', [id]);
    if (ids.length)
      await c.query(
        'INSERT INTO sequence_mailboxes (sequence_id, mailbox_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING',
        [id, ids],
      );
  }

  async createSequence(input: CreateSequence, actor: string) {
    return this.write(
      async (c) => {
        const { rows } = await c.query(
          `INSERT INTO sequences (name, window_from, window_to, days, time_zone, status, owner_slack_user_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
          [
            input.name,
            input.window.from,
            input.window.to,
            input.days,
            input.time_zone,
            input.status,
            input.owner_slack_user_id ?? null,
          ],
        );
        const id = rows[0].id as string;
        await this.replaceSteps(c, id, input.steps);
        await this.replaceMailboxes(c, id, input.mailbox_ids);
        return this.getSequence(id, c);
      },
      (s) => ({ actor, action: 'sequence.create', subject: s.id }),
    );
  }

  async updateSequence(id: string, input: UpdateSequence, actor: string) {
    const current = await this.getSequence(id);
    const next = { ...current, ...input };
    return this.write(
      async (c) => {
        await c.query(
          `UPDATE sequences SET name = $2, window_from = $3, window_to = $4, days = $5, time_zone = $6, status = $7,
             owner_slack_user_id = $8, updated_at = now() WHERE id = $1`,
          [
            id,
            next.name,
            next.window.from,
            next.window.to,
            next.days,
            next.time_zone,
            next.status,
            next.owner_slack_user_id,
          ],
        );
        if (input.steps) await this.replaceSteps(c, id, input.steps);
        if (input.mailbox_ids) await this.replaceMailboxes(c, id, input.mailbox_ids);
        // A changed window or pause takes back plans made under the old rules.
        await c.query(
          `UPDATE sequence_contacts SET planned_at = NULL WHERE sequence_id = $1 AND planned_at IS NOT NULL`,
          [id],
        );
        return this.getSequence(id, c);
      },
      () => ({ actor, action: 'sequence.update', subject: id, details: { fields: Object.keys(input) } }),
    );
  }

  async deleteSequence(id: string, actor: string) {
    await this.getSequence(id);
    await this.write(
      (c) => c.query('DELETE FROM sequences WHERE id = $1', [id]),
      () => ({ actor, action: 'sequence.delete', subject: id }),
    );
  }

  // ---------------- enrollments
  /**
   * Enrolls contacts; each gets one of the sequence's mailboxes (the least loaded, kept for the whole
   * sequence). The partial unique index keeps a contact in one active enrollment per sequence.
   */
  async enroll(sequenceId: string, contactIds: string[], now: Date, actor: string) {
    const sequence = await this.getSequence(sequenceId);
    if (!sequence.mailbox_ids.length)
      throw AppError.validation([
        { field: 'mailbox_ids', message: 'the sequence has no mailboxes to send from' },
      ]);
    return this.write(
      async (c) => {
        const ids = [...new Set(contactIds)];
        const known = (await c.query('SELECT id FROM contacts WHERE id = ANY($1::uuid[])', [ids])).rows.map(
          (r) => r.id,
        );
        const knownSet = new Set(known);
        const load = await c.query(
          `SELECT m.mailbox_id, count(e.id)::int AS n FROM sequence_mailboxes m
             LEFT JOIN sequence_contacts e ON e.mailbox_id = m.mailbox_id AND e.status = 'active'
           WHERE m.sequence_id = $1 GROUP BY m.mailbox_id ORDER BY n, m.mailbox_id`,
          [sequenceId],
        );
        const counts = load.rows.map((r) => ({ id: r.mailbox_id as string, n: r.n as number }));
        const assigned = known.map(() => {
          counts.sort((a, b) => a.n - b.n || a.id.localeCompare(b.id));
          const target = counts[0] as { id: string; n: number };
          target.n++;
          return target.id;
        });
        const { rows } = await c.query(
          `INSERT INTO sequence_contacts (sequence_id, contact_id, mailbox_id, next_send_at)
           SELECT $1, c, m, $4 FROM unnest($2::uuid[], $3::uuid[]) AS t(c, m)
           ON CONFLICT (sequence_id, contact_id) WHERE status IN ('active', 'paused') DO NOTHING RETURNING *`,
          [sequenceId, known, assigned, now],
        );
        const enrolled = new Set(rows.map((r) => r.contact_id));
        return {
          enrolled: rows.map(toEnrollment),
          already_enrolled: known.filter((id) => !enrolled.has(id)),
          unknown_contact_ids: ids.filter((id) => !knownSet.has(id)),
        };
      },
      (r) =>
        r.enrolled.length
          ? { actor, action: 'sequence.enroll', subject: sequenceId, details: { count: r.enrolled.length } }
          : undefined,
    );
  }

  async listEnrollments(sequenceId: string, limit: number, after?: string) {
    return (
      await this.pool.query(
        'SELECT * FROM sequence_contacts WHERE sequence_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3',
        [sequenceId, after ?? null, limit],
      )
    ).rows;
  }

  async getEnrollment(sequenceId: string, id: string) {
    const row = (
      await this.pool.query('SELECT * FROM sequence_contacts WHERE id = $1 AND sequence_id = $2', [
        id,
        sequenceId,
      ])
    ).rows[0];
    if (!row) throw AppError.notFound('Enrollment', id);
    return row;
  }

  async setEnrollmentStatus(sequenceId: string, id: string, from: string, to: string, actor: string) {
    const current = await this.getEnrollment(sequenceId, id);
    if (current.status !== from)
      throw new AppError(
        'conflict',
        `Enrollment ${id} is ${current.status}; only a ${from} enrollment can be set ${to}`,
      );
    return this.write(
      async (c) =>
        (
          await c.query(
            `UPDATE sequence_contacts SET status = $3, planned_at = NULL, updated_at = now()
             WHERE id = $1 AND status = $2 RETURNING *`,
            [id, from, to],
          )
        ).rows[0],
      () => ({ actor, action: `enrollment.${to === 'paused' ? 'pause' : 'resume'}`, subject: id }),
    );
  }

  async removeEnrollment(sequenceId: string, id: string, actor: string) {
    await this.getEnrollment(sequenceId, id);
    await this.write(
      (c) => c.query('DELETE FROM sequence_contacts WHERE id = $1', [id]),
      () => ({ actor, action: 'enrollment.remove', subject: id }),
    );
  }
}

function conflict(field: string, message: string) {
  return new AppError('conflict', message, { fields: [{ field, message }] });
}

export function toSequence(r: Row, steps: Row[], mailboxIds: string[]) {
  return {
    id: r.id as string,
    name: r.name as string,
    window: { from: r.window_from as string, to: r.window_to as string },
    days: r.days as number[],
    time_zone: r.time_zone as string,
    status: r.status as 'draft' | 'active' | 'paused',
    mailbox_ids: mailboxIds,
    steps: steps.map((s) => ({ step: s.step, delay_days: s.delay_days, subject: s.subject, body: s.body })),
    owner_slack_user_id: r.owner_slack_user_id as string | null,
    created_at: (r.created_at as Date).toISOString(),
  };
}

export type SequenceView = ReturnType<typeof toSequence>;
