import { sql } from 'drizzle-orm';
import { bigserial, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** What a daily stats post or email may show; each channel and recipient picks some. */
export const STATS_SECTIONS = ['deliveries', 'mailouts', 'sequences', 'appointments', 'briefings'] as const;
export type StatsSection = (typeof STATS_SECTIONS)[number];

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

/**
 * A Slack channel that gets the previous local day's numbers every day at `post_time` in
 * `time_zone`. `status` is `broken` once Slack said the bot cannot post there (not in the channel,
 * archived, gone): nothing more is tried until an admin saves the channel again.
 */
export const statsChannels = pgTable('stats_channels', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** Slack conversation id (C…, G…). */
  channelId: text('channel_id').notNull().unique(),
  /** Local wall-clock "HH:MM"; DST is resolved per day. */
  postTime: text('post_time').notNull().default('09:00'),
  timeZone: text('time_zone').notNull(),
  sections: text('sections')
    .array()
    .notNull()
    .default(sql`ARRAY['deliveries','mailouts','sequences','appointments','briefings']::text[]`),
  /** active | broken */
  status: text('status').notNull().default('active'),
  brokenReason: text('broken_reason'),
  brokenAt: timestamp('broken_at', { withTimezone: true }),
  createdBy: text('created_by').notNull(),
  ...timestamps,
});

/** An email address that gets the same numbers and chart once a day at `send_time` in `time_zone`. */
export const statsRecipients = pgTable(
  'stats_recipients',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull(),
    name: text('name'),
    sendTime: text('send_time').notNull().default('09:00'),
    timeZone: text('time_zone').notNull(),
    sections: text('sections')
      .array()
      .notNull()
      .default(sql`ARRAY['deliveries','mailouts','sequences','appointments','briefings']::text[]`),
    createdBy: text('created_by').notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex('stats_recipients_email_idx').on(sql`lower(${t.email})`)],
);

/**
 * One row per target (a stats channel or recipient) and local date: the unique key is what makes
 * "once per channel (or recipient) per local day" hold across reruns and several schedulers.
 * `report` is the last computed numbers; `chart_*` follow the chart upload of a channel's post.
 */
export const statsRuns = pgTable(
  'stats_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** channel | email */
    targetKind: text('target_kind').notNull(),
    targetId: uuid('target_id').notNull(),
    /** The local date the run is for (numbers are for the day before it). */
    localDate: text('local_date').notNull(),
    /** pending | done | skipped */
    status: text('status').notNull().default('pending'),
    report: jsonb('report').$type<Record<string, unknown>>(),
    /** The slack_posts key of a channel's post, or the messages.id of an email. */
    postKey: text('post_key'),
    messageId: uuid('message_id'),
    /** pending | uploaded | failed | skipped */
    chartStatus: text('chart_status'),
    chartFileId: text('chart_file_id'),
    chartError: text('chart_error'),
    error: text('error'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('stats_runs_target_date_idx').on(t.targetKind, t.targetId, t.localDate),
    index('stats_runs_created_at_idx').on(t.createdAt),
  ],
);
