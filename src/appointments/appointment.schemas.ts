import { z } from 'zod';
import { headerText, lowercaseEmail, typeMessage } from '../shared/text.ts';
import { isValidTimeZone } from '../shared/time.ts';

export const APPOINTMENT_STATUSES = ['booked', 'cancelled', 'completed', 'no_show'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

const email = lowercaseEmail;

export const timeZoneSchema = z
  .string({ error: typeMessage('a string') })
  .trim()
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Europe/Paris or America/New_York' });

/** ISO 8601 with an offset ("2026-11-01T09:00:00-05:00", "...Z") or a local date-time ("2026-11-01T09:00"). */
const dateTime = z
  .string({ error: typeMessage('a string') })
  .trim()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/,
    'must be an ISO 8601 date-time such as 2026-11-01T09:00:00-05:00, or a local 2026-11-01T09:00 with time_zone',
  );

const minutes = (max: number) =>
  z
    .number({ error: typeMessage('a whole number of minutes') })
    .int('must be a whole number of minutes')
    .min(0, 'must not be negative')
    .max(max, `must be at most ${max}`);

const serviceFields = {
  name: headerText({ min: 1, max: 120 }),
  description: z.string().max(2_000, 'must be at most 2000 characters'),
  duration_minutes: minutes(24 * 60).min(5, 'must be at least 5'),
  buffer_minutes: minutes(24 * 60),
  reminder_minutes: z
    .array(minutes(30 * 24 * 60).min(1, 'must be at least 1'))
    .max(5, 'must have at most 5 reminders'),
  active: z.boolean({ error: typeMessage('true or false') }),
};

export const createServiceSchema = z
  .object({
    ...serviceFields,
    description: serviceFields.description.default(''),
    buffer_minutes: serviceFields.buffer_minutes.default(0),
    reminder_minutes: serviceFields.reminder_minutes.default([1440, 60]),
    active: serviceFields.active.default(true),
  })
  .strict();
export const updateServiceSchema = z.object(serviceFields).partial().strict();
export type CreateServiceInput = z.output<typeof createServiceSchema>;
export type UpdateServiceInput = z.output<typeof updateServiceSchema>;

export const serviceSchema = z.object({
  id: z.uuid(),
  ...serviceFields,
  name: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const attendeeSchema = z
  .object({ name: headerText({ min: 1, max: 120 }), email, time_zone: timeZoneSchema })
  .strict();

const location = z.string().trim().max(500, 'must be at most 500 characters').nullable();

export const createAppointmentSchema = z
  .object({
    rep_id: z.uuid({ message: 'must be a rep id (UUID)' }),
    service_id: z.uuid({ message: 'must be a service id (UUID)' }),
    attendee: attendeeSchema,
    start: dateTime,
    end: dateTime.optional(),
    /** Zone of a local `start`/`end` without offset; default the attendee's. */
    time_zone: timeZoneSchema.optional(),
    location: location.optional(),
    allow_overlap: z.boolean({ error: typeMessage('true or false') }).default(false),
  })
  .strict();
export type CreateAppointmentInput = z.output<typeof createAppointmentSchema>;

export const updateAppointmentSchema = z
  .object({
    service_id: z.uuid({ message: 'must be a service id (UUID)' }).optional(),
    attendee: attendeeSchema.partial().strict().optional(),
    start: dateTime.optional(),
    end: dateTime.optional(),
    time_zone: timeZoneSchema.optional(),
    location: location.optional(),
    /** Only completed or no_show here; cancelling is DELETE. */
    status: z
      .enum(['booked', 'completed', 'no_show'], {
        message: 'must be one of booked, completed, no_show (cancel with DELETE)',
      })
      .optional(),
    allow_overlap: z.boolean({ error: typeMessage('true or false') }).default(false),
  })
  .strict();
export type UpdateAppointmentInput = z.output<typeof updateAppointmentSchema>;

export const appointmentSchema = z.object({
  id: z.uuid(),
  rep_id: z.uuid(),
  service_id: z.uuid(),
  attendee: z.object({ name: z.string(), email: z.string(), time_zone: z.string() }),
  start: z.string(),
  end: z.string(),
  location: z.string().nullable(),
  status: z.enum(APPOINTMENT_STATUSES),
  cancel_reason: z.string().nullable(),
  created_by: z.string(),
  sequence: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const listAppointmentsQuery = z.object({
  rep_id: z.uuid({ message: 'must be a rep id (UUID)' }).optional(),
  service_id: z.uuid({ message: 'must be a service id (UUID)' }).optional(),
  status: z
    .enum(APPOINTMENT_STATUSES, { message: `must be one of ${APPOINTMENT_STATUSES.join(', ')}` })
    .optional(),
  from: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with offset' }).optional(),
  to: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with offset' }).optional(),
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
  cursor: z.string().max(500).optional(),
});
export type AppointmentFilter = z.output<typeof listAppointmentsQuery>;

export const cancelAppointmentQuery = z.object({
  reason: z.string().trim().max(500, 'must be at most 500 characters').optional(),
});

const noteFields = {
  title: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  body: z.string().max(10_000, 'must be at most 10000 characters'),
};
export const createNoteSchema = z.object({ ...noteFields, body: noteFields.body.default('') }).strict();
export const updateNoteSchema = z.object(noteFields).partial().strict();
export const noteSchema = z.object({
  id: z.uuid(),
  appointment_id: z.uuid(),
  title: z.string(),
  body: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const conflictSchema = z.object({
  kind: z.enum(['appointment', 'calendar_event']),
  id: z.string(),
  title: z.string(),
  start: z.string(),
  end: z.string(),
});
export type Conflict = z.output<typeof conflictSchema>;
