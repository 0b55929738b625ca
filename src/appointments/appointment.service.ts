import { DateTime } from 'luxon';
import type { BriefingAppointment } from '../briefings/briefing.model.ts';
import { AppError, type FieldProblem, zodFields } from '../errors.ts';
import type { RepRepository } from '../reps/rep.repository.ts';
import type { Clock } from '../shared/time.ts';
import type {
  AppointmentRepository,
  AppointmentRow,
  MailRow,
  NoteRow,
  ServiceRow,
} from './appointment.repository.ts';
import {
  type AppointmentFilter,
  type Conflict,
  type CreateAppointmentInput,
  type CreateServiceInput,
  createAppointmentSchema,
  type UpdateAppointmentInput,
  type UpdateServiceInput,
  updateAppointmentSchema,
} from './appointment.schemas.ts';

export interface Actor {
  id: string;
}

/** What happens after a write commits: mail and reminder jobs (Redis), never inside the transaction. */
export interface AppointmentEffects {
  mailWritten(mail: MailRow): void;
  scheduleReminders(row: AppointmentRow, service: ServiceRow): void;
}

const iso = (d: Date) => d.toISOString();

export function toApiService(row: ServiceRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    duration_minutes: row.duration_minutes,
    buffer_minutes: row.buffer_minutes,
    reminder_minutes: row.reminder_minutes,
    active: row.active,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function toApiAppointment(row: AppointmentRow) {
  return {
    id: row.id,
    rep_id: row.rep_id,
    service_id: row.service_id,
    attendee: row.attendee,
    start: iso(row.starts_at),
    end: iso(row.ends_at),
    location: row.location,
    status: row.status,
    cancel_reason: row.cancel_reason,
    created_by: row.created_by,
    sequence: row.sequence,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function toApiNote(row: NoteRow) {
  return {
    id: row.id,
    appointment_id: row.appointment_id,
    title: row.title,
    body: row.body,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/;

/**
 * "2026-11-01T09:00:00-05:00" as given; "2026-11-01T09:00" in `zone`. A local time that does not
 * exist in the zone (the hour skipped when clocks go forward) is refused rather than moved.
 */
export function parseDateTime(value: string, zone: string, field: string): Date {
  if (HAS_OFFSET.test(value)) {
    const dt = DateTime.fromISO(value, { setZone: true });
    if (!dt.isValid)
      throw AppError.validation([{ field, message: `is not a valid date-time (${dt.invalidExplanation})` }]);
    return dt.toJSDate();
  }
  const dt = DateTime.fromISO(value, { zone });
  if (!dt.isValid)
    throw AppError.validation([{ field, message: `is not a valid date-time (${dt.invalidExplanation})` }]);
  if (dt.toFormat("yyyy-MM-dd'T'HH:mm") !== value.slice(0, 16)) {
    throw AppError.validation([
      { field, message: `${value} does not exist in ${zone} (clocks go forward then); choose another time` },
    ]);
  }
  return dt.toJSDate();
}

export function conflictError(conflicts: Conflict[]): AppError {
  const fields: FieldProblem[] = conflicts.map((c) => ({
    field: 'start',
    message: `overlaps ${c.kind === 'appointment' ? 'appointment' : 'calendar event'} ${c.id} "${c.title}" (${c.start} to ${c.end}); send allow_overlap: true to book anyway`,
  }));
  return new AppError('conflict', `The booking overlaps ${conflicts.length} other commitment(s) of the rep`, {
    fields,
  });
}

export class AppointmentService {
  constructor(
    private readonly deps: {
      repo: AppointmentRepository;
      reps: RepRepository;
      clock: Clock;
      effects: AppointmentEffects;
    },
  ) {}

  get repo(): AppointmentRepository {
    return this.deps.repo;
  }

  // --- services

  async createService(input: CreateServiceInput, actor: Actor) {
    const row = await this.deps.repo.createService(input, (r) => ({
      actor: actor.id,
      action: 'service.create',
      subject: r.id,
      details: { name: r.name },
    }));
    return toApiService(row);
  }

  async updateService(id: string, input: UpdateServiceInput, actor: Actor) {
    const row = await this.deps.repo.updateService(id, input, {
      actor: actor.id,
      action: 'service.update',
      subject: id,
      details: { fields: Object.keys(input) },
    });
    if (!row) throw AppError.notFound('Service', id);
    return toApiService(row);
  }

  async deleteService(id: string, actor: Actor) {
    const result = await this.deps.repo.deleteService(id, {
      actor: actor.id,
      action: 'service.delete',
      subject: id,
    });
    if (!result) throw AppError.notFound('Service', id);
    return result;
  }

  async getService(id: string) {
    const row = await this.deps.repo.getService(id);
    if (!row) throw AppError.notFound('Service', id);
    return toApiService(row);
  }

  async listServices() {
    return { services: (await this.deps.repo.listServices()).map(toApiService) };
  }

  // --- appointments

  async get(id: string) {
    const row = await this.deps.repo.get(id);
    if (!row) throw AppError.notFound('Appointment', id);
    return toApiAppointment(row);
  }

  async create(input: CreateAppointmentInput & { notes?: { title: string; body: string }[] }, actor: Actor) {
    const [rep, service] = await Promise.all([
      this.deps.reps.findById(input.rep_id),
      this.deps.repo.getService(input.service_id),
    ]);
    const problems: FieldProblem[] = [];
    if (!rep) problems.push({ field: 'rep_id', message: `no rep ${input.rep_id}` });
    if (!service) problems.push({ field: 'service_id', message: `no service ${input.service_id}` });
    else if (!service.active)
      problems.push({ field: 'service_id', message: `service "${service.name}" is not active` });
    if (problems.length || !rep || !service) throw AppError.validation(problems);
    const zone = input.time_zone ?? input.attendee.time_zone;
    const start = parseDateTime(input.start, zone, 'start');
    const end = input.end
      ? parseDateTime(input.end, zone, 'end')
      : new Date(start.getTime() + service.duration_minutes * 60_000);
    this.checkTimes(start, end, input.end ? 'end' : 'service_id');

    const result = await this.deps.repo.write(
      {
        repId: rep.id,
        allowOverlap: input.allow_overlap,
        checkConflicts: true,
        startsAt: start,
        endsAt: end,
        bufferMinutes: service.buffer_minutes,
        apply: async (client) => {
          const { rows } = await client.query<AppointmentRow>(
            `INSERT INTO appointments (rep_id, service_id, attendee, starts_at, ends_at, buffer_minutes, location, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
            [
              rep.id,
              service.id,
              JSON.stringify(input.attendee),
              start,
              end,
              service.buffer_minutes,
              input.location ?? null,
              actor.id,
            ],
          );
          const row = rows[0] as AppointmentRow;
          for (const note of input.notes ?? []) {
            await client.query(
              'INSERT INTO appointment_notes (appointment_id, title, body) VALUES ($1, $2, $3)',
              [row.id, note.title, note.body],
            );
          }
          return row;
        },
      },
      (row) => ({
        mail: 'confirmation',
        audit: {
          actor: actor.id,
          action: 'appointment.create',
          subject: row.id,
          details: { rep_id: rep.id, start: iso(start) },
        },
      }),
    );
    if (result.conflicts.length) throw conflictError(result.conflicts);
    const row = result.row as AppointmentRow;
    if (result.mail) this.deps.effects.mailWritten(result.mail);
    this.deps.effects.scheduleReminders(row, service);
    return toApiAppointment(row);
  }

  /** The same rules for callers that did not come through the API's schema (Slack). */
  async createFromInput(raw: unknown, actor: Actor, notes: { title: string; body: string }[] = []) {
    const parsed = createAppointmentSchema.safeParse(raw);
    if (!parsed.success) throw AppError.validation(zodFields(parsed.error.issues));
    return this.create({ ...parsed.data, notes }, actor);
  }

  async updateFromInput(id: string, raw: unknown, actor: Actor) {
    const parsed = updateAppointmentSchema.safeParse(raw);
    if (!parsed.success) throw AppError.validation(zodFields(parsed.error.issues));
    return this.update(id, parsed.data, actor);
  }

  private checkTimes(start: Date, end: Date, endField: string) {
    const problems: FieldProblem[] = [];
    if (start.getTime() <= this.deps.clock.now().getTime())
      problems.push({ field: 'start', message: 'must be in the future' });
    if (end.getTime() <= start.getTime())
      problems.push({ field: endField, message: 'end must be after start' });
    else if (end.getTime() - start.getTime() > 24 * 3_600_000)
      problems.push({ field: endField, message: 'an appointment lasts at most 24 hours' });
    if (problems.length) throw AppError.validation(problems);
  }

  async update(id: string, input: UpdateAppointmentInput, actor: Actor) {
    const current = await this.deps.repo.get(id);
    if (!current) throw AppError.notFound('Appointment', id);
    if (current.status === 'cancelled')
      throw new AppError('conflict', `Appointment ${id} is cancelled; book a new one`);
    const service = input.service_id
      ? await this.deps.repo.getService(input.service_id)
      : await this.deps.repo.getService(current.service_id);
    if (!service)
      throw AppError.validation([{ field: 'service_id', message: `no service ${input.service_id}` }]);
    if (input.service_id && input.service_id !== current.service_id && !service.active) {
      throw AppError.validation([
        { field: 'service_id', message: `service "${service.name}" is not active` },
      ]);
    }
    const attendee = { ...current.attendee, ...input.attendee };
    const zone = input.time_zone ?? attendee.time_zone;
    const start = input.start ? parseDateTime(input.start, zone, 'start') : current.starts_at;
    const end = input.end
      ? parseDateTime(input.end, zone, 'end')
      : input.start || input.service_id
        ? new Date(start.getTime() + service.duration_minutes * 60_000)
        : current.ends_at;
    const timesChanged =
      start.getTime() !== current.starts_at.getTime() || end.getTime() !== current.ends_at.getTime();
    const told =
      timesChanged ||
      service.id !== current.service_id ||
      JSON.stringify(attendee) !== JSON.stringify(current.attendee) ||
      (input.location !== undefined && input.location !== current.location);
    if (timesChanged) this.checkTimes(start, end, input.end ? 'end' : 'start');

    const result = await this.deps.repo.write(
      {
        id,
        repId: current.rep_id,
        allowOverlap: input.allow_overlap,
        checkConflicts: timesChanged || service.id !== current.service_id,
        startsAt: start,
        endsAt: end,
        bufferMinutes: service.buffer_minutes,
        apply: async (client) => {
          const { rows } = await client.query<AppointmentRow>(
            `UPDATE appointments SET service_id = $2, attendee = $3, starts_at = $4, ends_at = $5, buffer_minutes = $6,
               location = $7, status = $8, sequence = sequence + $9, updated_at = now()
             WHERE id = $1 AND status <> 'cancelled' RETURNING *`,
            [
              id,
              service.id,
              JSON.stringify(attendee),
              start,
              end,
              service.buffer_minutes,
              input.location === undefined ? current.location : input.location,
              input.status ?? current.status,
              told ? 1 : 0,
            ],
          );
          return rows[0];
        },
      },
      (row) => ({
        mail: told && row.status === 'booked' ? 'update' : undefined,
        audit: {
          actor: actor.id,
          action: 'appointment.update',
          subject: id,
          details: {
            fields: Object.keys(input).filter((k) => k !== 'allow_overlap'),
            sequence: row.sequence,
          },
        },
      }),
    );
    if (result.conflicts.length) throw conflictError(result.conflicts);
    if (!result.row) throw new AppError('conflict', `Appointment ${id} was cancelled meanwhile`);
    if (result.mail) this.deps.effects.mailWritten(result.mail);
    if (told && result.row.status === 'booked') this.deps.effects.scheduleReminders(result.row, service);
    return toApiAppointment(result.row);
  }

  async cancel(id: string, reason: string | undefined, actor: Actor) {
    const current = await this.deps.repo.get(id);
    if (!current) throw AppError.notFound('Appointment', id);
    if (current.status === 'cancelled') return toApiAppointment(current);
    const result = await this.deps.repo.write(
      {
        id,
        repId: current.rep_id,
        allowOverlap: true,
        checkConflicts: false,
        startsAt: current.starts_at,
        endsAt: current.ends_at,
        bufferMinutes: 0,
        apply: async (client) => {
          const { rows } = await client.query<AppointmentRow>(
            `UPDATE appointments SET status = 'cancelled', cancel_reason = $2, sequence = sequence + 1, updated_at = now()
             WHERE id = $1 AND status <> 'cancelled' RETURNING *`,
            [id, reason?.trim() || null],
          );
          return rows[0];
        },
      },
      (row) => ({
        // Only a booking still ahead is worth a cancellation in the attendee's calendar.
        mail: row.ends_at.getTime() > this.deps.clock.now().getTime() ? 'cancellation' : undefined,
        audit: {
          actor: actor.id,
          action: 'appointment.cancel',
          subject: id,
          details: { reason: reason ?? null },
        },
      }),
    );
    if (result.mail) this.deps.effects.mailWritten(result.mail);
    return toApiAppointment(result.row ?? ((await this.deps.repo.get(id)) as AppointmentRow));
  }

  async list(filter: AppointmentFilter) {
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    const rows = await this.deps.repo.list({
      repId: filter.rep_id,
      serviceId: filter.service_id,
      status: filter.status,
      from: filter.from ? new Date(filter.from) : undefined,
      to: filter.to ? new Date(filter.to) : undefined,
      after,
      limit: filter.limit + 1,
    });
    const page = rows.slice(0, filter.limit);
    const last = page.at(-1);
    return {
      appointments: page.map(toApiAppointment),
      next_cursor: rows.length > filter.limit && last ? encodeCursor(last) : null,
    };
  }

  /** The rep's booked appointments starting in the window, with service names and notes (briefings). */
  async forBriefing(repId: string, window: { start: Date; end: Date }): Promise<BriefingAppointment[]> {
    const rows = await this.deps.repo.list({
      repId,
      status: 'booked',
      from: window.start,
      to: window.end,
      limit: 100,
    });
    const starting = rows.filter((r) => r.starts_at >= window.start);
    if (starting.length === 0) return [];
    const [services, notes] = await Promise.all([
      this.deps.repo.listServices(),
      this.deps.repo.notesFor(starting.map((r) => r.id)),
    ]);
    const names = new Map(services.map((s) => [s.id, s.name]));
    return starting.map((r) => ({
      serviceName: names.get(r.service_id) ?? 'Appointment',
      attendee: { name: r.attendee.name, email: r.attendee.email },
      startsAt: iso(r.starts_at),
      endsAt: iso(r.ends_at),
      ...(r.location ? { location: r.location } : {}),
      notes: notes.filter((n) => n.appointment_id === r.id).map((n) => ({ title: n.title, body: n.body })),
    }));
  }

  // --- notes

  private async requireAppointment(id: string) {
    const row = await this.deps.repo.get(id);
    if (!row) throw AppError.notFound('Appointment', id);
    return row;
  }

  async listNotes(appointmentId: string) {
    await this.requireAppointment(appointmentId);
    return { notes: (await this.deps.repo.notes(appointmentId)).map(toApiNote) };
  }

  async getNote(appointmentId: string, id: string) {
    const row = await this.deps.repo.note(appointmentId, id);
    if (!row) throw AppError.notFound('Note', id);
    return toApiNote(row);
  }

  async createNote(appointmentId: string, input: { title: string; body: string }, actor: Actor) {
    await this.requireAppointment(appointmentId);
    const row = await this.deps.repo.createNote(appointmentId, input.title, input.body, {
      actor: actor.id,
      action: 'appointment_note.create',
      subject: appointmentId,
    });
    return toApiNote(row);
  }

  async updateNote(
    appointmentId: string,
    id: string,
    input: { title?: string; body?: string },
    actor: Actor,
  ) {
    const row = await this.deps.repo.updateNote(appointmentId, id, input, {
      actor: actor.id,
      action: 'appointment_note.update',
      subject: appointmentId,
      details: { note_id: id },
    });
    if (!row) throw AppError.notFound('Note', id);
    return toApiNote(row);
  }

  async deleteNote(appointmentId: string, id: string, actor: Actor) {
    const deleted = await this.deps.repo.deleteNote(appointmentId, id, {
      actor: actor.id,
      action: 'appointment_note.delete',
      subject: appointmentId,
      details: { note_id: id },
    });
    if (!deleted) throw AppError.notFound('Note', id);
  }
}

function encodeCursor(row: AppointmentRow): string {
  return Buffer.from(`${row.starts_at.toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { start: Date; id: string } {
  const [start, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(start ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(date.getTime())) {
    throw AppError.validation([{ field: 'query.cursor', message: 'is not a cursor this API returned' }]);
  }
  return { start: date, id };
}
