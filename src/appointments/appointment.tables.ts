import { sql } from 'drizzle-orm';
import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { reps } from '../db/schema.ts';

/** What a rep books: a demo, an onboarding call. Reminders are minutes before the start. */
export const services = pgTable('services', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  durationMinutes: integer('duration_minutes').notNull(),
  bufferMinutes: integer('buffer_minutes').notNull().default(0),
  reminderMinutes: integer('reminder_minutes').array().notNull().default(sql`'{1440,60}'::int[]`),
  active: boolean('active').notNull().default(true),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export interface Attendee {
  name: string;
  email: string;
  time_zone: string;
}

/**
 * One booking. `sequence` is the iCalendar SEQUENCE of the invite: 0 when booked, +1 on every change
 * the attendee is told about (reschedule, service, attendee, location, cancellation).
 */
export const appointments = pgTable(
  'appointments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    repId: uuid('rep_id')
      .notNull()
      .references(() => reps.id, { onDelete: 'cascade' }),
    serviceId: uuid('service_id')
      .notNull()
      .references(() => services.id),
    attendee: jsonb('attendee').$type<Attendee>().notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    /** Minutes kept free after the end (the service's buffer when booked). */
    bufferMinutes: integer('buffer_minutes').notNull().default(0),
    location: text('location'),
    status: text('status').notNull().default('booked'),
    cancelReason: text('cancel_reason'),
    sequence: integer('sequence').notNull().default(0),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('appointments_rep_starts_idx').on(t.repId, t.startsAt),
    index('appointments_starts_idx').on(t.startsAt, t.id),
    index('appointments_ends_at_idx').on(t.endsAt),
  ],
);

export const appointmentNotes = pgTable(
  'appointment_notes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appointmentId: uuid('appointment_id')
      .notNull()
      .references(() => appointments.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    body: text('body').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('appointment_notes_appointment_idx').on(t.appointmentId, t.createdAt)],
);

/**
 * Outbox of the mails a change owes the attendee, written in the change's transaction. `id` is the
 * reserved `messages.id`, so turning a row into a message twice stores one message.
 */
export const appointmentMails = pgTable(
  'appointment_mails',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appointmentId: uuid('appointment_id')
      .notNull()
      .references(() => appointments.id, { onDelete: 'cascade' }),
    sequence: integer('sequence').notNull(),
    /** confirmation | update | cancellation */
    type: text('type').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    doneAt: timestamp('done_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('appointment_mails_key_idx').on(t.appointmentId, t.sequence, t.type),
    index('appointment_mails_pending_idx').on(t.createdAt).where(sql`done_at IS NULL`),
  ],
);
