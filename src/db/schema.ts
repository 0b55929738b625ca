import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  index,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const repRole = pgEnum('rep_role', ['rep', 'manager', 'admin']);
export const calendarSource = pgEnum('calendar_source', ['google', 'microsoft', 'ics']);

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const reps = pgTable(
  'reps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slackUserId: text('slack_user_id').unique(),
    name: text('name').notNull(),
    email: text('email').notNull(),
    timeZone: text('time_zone').notNull(),
    /** Local wall-clock "HH:MM" in time_zone; DST is resolved when a day's instant is computed. */
    briefingTime: text('briefing_time').notNull().default('08:00'),
    prepTime: text('prep_time').notNull().default('05:00'),
    calendarSource: calendarSource('calendar_source').notNull().default('google'),
    role: repRole('role').notNull().default('rep'),
    slackDm: boolean('slack_dm').notNull().default(true),
    emptyBriefings: boolean('empty_briefings').notNull().default(false),
    ...timestamps,
  },
  (t) => [uniqueIndex('reps_email_idx').on(sql`lower(${t.email})`), index('reps_name_idx').on(t.name, t.id)],
);

export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  /** First characters of the key, shown in listings so a person can tell keys apart. */
  prefix: text('prefix').notNull(),
  /** SHA-256 of the whole key; the key itself is shown once at creation and never stored. */
  hash: text('hash').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});

/** Workspace-wide settings (alert/stats/approvals channels); one row per key, JSON value. */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedBy: text('updated_by'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    /** "slack:U123", "api-key:<uuid>", "cli", "system". */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    subject: text('subject'),
    details: jsonb('details').notNull().default({}),
  },
  (t) => [index('audit_log_at_idx').on(t.at)],
);
