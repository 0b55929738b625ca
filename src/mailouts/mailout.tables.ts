import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const MAILOUT_STATUSES = [
  'draft',
  'pending_approval',
  'scheduled',
  'running',
  'paused',
  'finished',
  'expired',
  'cancelled',
  'rejected',
] as const;
export const mailoutStatus = pgEnum('mailout_status', MAILOUT_STATUSES);

export const MAILOUT_MESSAGE_STATUSES = ['pending', 'sent', 'failed', 'expired', 'cancelled'] as const;
export const mailoutMessageStatus = pgEnum('mailout_message_status', MAILOUT_MESSAGE_STATUSES);

export const mailouts = pgTable(
  'mailouts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: text('name').notNull(),
    text: text('text').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    /** Empty = any operator; OR inside the list, AND with tags. */
    operatorCodes: text('operator_codes').array().notNull().default(sql`'{}'::text[]`),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    /** Local window "HH:MM" in each customer's zone; both null = any time. */
    windowFrom: text('window_from'),
    windowTo: text('window_to'),
    createdBy: text('created_by').notNull(),
    version: integer('version').notNull().default(1),
    status: mailoutStatus('status').notNull().default('draft'),
    approvedVersion: integer('approved_version'),
    approvedBy: text('approved_by'),
    approvedAt: timestamp('approved_at', { withTimezone: true }),
    rejectedBy: text('rejected_by'),
    rejectionReason: text('rejection_reason'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    /** DELETE hides the mailout from lists; its messages stay for audit until retention. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    /** slack_posts keys of the approval/progress card(s): one channel card, or one DM per manager. */
    slackCards: text('slack_cards').array().notNull().default(sql`'{}'::text[]`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('mailouts_status_idx').on(t.status, t.startsAt)],
);

/**
 * One row per mailout and customer (the fan-out). `id` is the send API's msgId. `time_zone` and
 * `operator_code` are copied at fan-out so planning per zone and statistics need no join and
 * survive the customer's deletion.
 */
export const mailoutMessages = pgTable(
  'mailout_messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    mailoutId: bigint('mailout_id', { mode: 'number' }).notNull(),
    customerId: bigint('customer_id', { mode: 'number' }).notNull(),
    timeZone: text('time_zone').notNull(),
    operatorCode: text('operator_code').notNull(),
    status: mailoutMessageStatus('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** Not before this instant (retry backoff). */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('mailout_messages_mailout_customer_idx').on(t.mailoutId, t.customerId),
    index('mailout_messages_pending_idx')
      .on(t.mailoutId, t.timeZone, t.nextAttemptAt)
      .where(sql`status = 'pending'`),
    index('mailout_messages_customer_idx').on(t.customerId),
    // Retention looks rows up by age (src/retention/retention.ts).
    index('mailout_messages_created_at_idx').on(t.createdAt),
  ],
);

/** Every request made to the send API for a message: time, HTTP status, latency, error. */
export const mailoutMessageAttempts = pgTable(
  'mailout_message_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    messageId: bigint('message_id', { mode: 'number' }).notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    /** sent | transient | permanent */
    outcome: text('outcome').notNull(),
    error: text('error'),
  },
  (t) => [
    index('mailout_message_attempts_message_idx').on(t.messageId),
    index('mailout_message_attempts_at_idx').on(t.at),
  ],
);
