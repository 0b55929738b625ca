import { sql } from 'drizzle-orm';
import {
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const MAILBOX_STATUSES = ['active', 'paused'] as const;
export const SEQUENCE_STATUSES = ['draft', 'active', 'paused'] as const;
export const ENROLLMENT_STATUSES = [
  'active',
  'completed',
  'replied',
  'bounced',
  'unsubscribed',
  'paused',
  'failed',
] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];

/** A team mailbox sequences send from; its caps are counted per local day (in the sequence's time zone) and over a rolling 24 h. */
export const mailboxes = pgTable('mailboxes', {
  id: uuid('id').primaryKey().defaultRandom(),
  email: text('email').notNull().unique(),
  displayName: text('display_name').notNull().default(''),
  dailyLimit: integer('daily_limit').notNull(),
  /** Warm-up: day 0 allows warmup_start_limit, each further day warmup_daily_increase more, up to daily_limit. */
  warmupStartLimit: integer('warmup_start_limit'),
  warmupDailyIncrease: integer('warmup_daily_increase'),
  warmupStartedAt: timestamp('warmup_started_at', { withTimezone: true }),
  status: text('status', { enum: MAILBOX_STATUSES }).notNull().default('active'),
  pausedReason: text('paused_reason'),
  ...timestamps,
});

export const contacts = pgTable(
  'contacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull(),
    firstName: text('first_name').notNull().default(''),
    lastName: text('last_name').notNull().default(''),
    company: text('company').notNull().default(''),
    timeZone: text('time_zone'),
    fields: jsonb('fields').$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps,
  },
  (t) => [uniqueIndex('contacts_email_idx').on(sql`lower(${t.email})`)],
);

export const sequences = pgTable('sequences', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  windowFrom: text('window_from').notNull(),
  windowTo: text('window_to').notNull(),
  /** ISO weekdays 1 (Monday) to 7 (Sunday) on which the window opens. */
  days: integer('days').array().notNull(),
  timeZone: text('time_zone').notNull(),
  status: text('status', { enum: SEQUENCE_STATUSES }).notNull().default('draft'),
  /** The Slack user who owns the sequence: replies are DMed to them. */
  ownerSlackUserId: text('owner_slack_user_id'),
  ...timestamps,
});

export const sequenceSteps = pgTable(
  'sequence_steps',
  {
    sequenceId: uuid('sequence_id')
      .notNull()
      .references(() => sequences.id, { onDelete: 'cascade' }),
    step: integer('step').notNull(),
    delayDays: integer('delay_days').notNull().default(0),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.sequenceId, t.step] }),
    check('sequence_steps_step_check', sql`${t.step} >= 1`),
  ],
);

export const sequenceMailboxes = pgTable(
  'sequence_mailboxes',
  {
    sequenceId: uuid('sequence_id')
      .notNull()
      .references(() => sequences.id, { onDelete: 'cascade' }),
    mailboxId: uuid('mailbox_id')
      .notNull()
      .references(() => mailboxes.id, { onDelete: 'restrict' }),
  },
  (t) => [primaryKey({ columns: [t.sequenceId, t.mailboxId] })],
);

/** Enrollments: a contact in a sequence, sending from one mailbox for the whole sequence. */
export const sequenceContacts = pgTable(
  'sequence_contacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sequenceId: uuid('sequence_id')
      .notNull()
      .references(() => sequences.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    mailboxId: uuid('mailbox_id')
      .notNull()
      .references(() => mailboxes.id, { onDelete: 'restrict' }),
    /** The last step sent (0 before the first). */
    currentStep: integer('current_step').notNull().default(0),
    lastSentAt: timestamp('last_sent_at', { withTimezone: true }),
    nextSendAt: timestamp('next_send_at', { withTimezone: true }),
    /** Set by the planner: the instant the next step is planned for (null = not planned yet). */
    plannedAt: timestamp('planned_at', { withTimezone: true }),
    status: text('status').notNull().default('active'),
    stoppedReason: text('stopped_reason'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('sequence_contacts_one_active_idx')
      .on(t.sequenceId, t.contactId)
      .where(sql`${t.status} IN ('active', 'paused')`),
    index('sequence_contacts_due_idx').on(t.nextSendAt).where(sql`${t.status} = 'active'`),
    index('sequence_contacts_planned_idx').on(t.mailboxId, t.plannedAt),
    index('sequence_contacts_updated_idx').on(t.updatedAt),
  ],
);

/**
 * The send history: one row per step sent (the unique key makes a step go out once), with the
 * message it became. Mailbox caps are counted from here: PostgreSQL is the truth, Redis a fast copy.
 */
export const sequenceSends = pgTable(
  'sequence_sends',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    enrollmentId: uuid('enrollment_id')
      .notNull()
      .references(() => sequenceContacts.id, { onDelete: 'cascade' }),
    step: integer('step').notNull(),
    mailboxId: uuid('mailbox_id').notNull(),
    messageId: uuid('message_id').notNull(),
    messageIdHeader: text('message_id_header').notNull(),
    sentAt: timestamp('sent_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('sequence_sends_step_idx').on(t.enrollmentId, t.step),
    index('sequence_sends_mailbox_idx').on(t.mailboxId, t.sentAt),
    uniqueIndex('sequence_sends_header_idx').on(t.messageIdHeader),
    uniqueIndex('sequence_sends_message_idx').on(t.messageId),
    index('sequence_sends_sent_at_idx').on(t.sentAt),
  ],
);
