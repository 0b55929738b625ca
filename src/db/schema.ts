import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  index,
  integer,
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

/**
 * Delivery layer. A `messages` row is the source of truth (transactional outbox): it is written
 * before anything is queued, and the sweeper re-enqueues due rows Redis no longer has.
 */
export const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'deferred',
  'sent',
  'delivered',
  'opened',
  'clicked',
  'unsubscribed',
  'spam_report',
  'bounced',
  'dropped',
  'failed',
  'cancelled',
  'suppressed',
] as const;
export const messageStatus = pgEnum('message_status', MESSAGE_STATUSES);
export const MESSAGE_PRIORITIES = ['high', 'normal', 'low'] as const;
export const messagePriority = pgEnum('message_priority', MESSAGE_PRIORITIES);

export interface StoredAddress {
  email: string;
  name?: string;
}

export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** api, briefing, sequence, appointment, mailout, alert-test: who asked for it. */
    kind: text('kind').notNull().default('api'),
    status: messageStatus('status').notNull().default('queued'),
    priority: messagePriority('priority').notNull().default('normal'),
    fromAddress: jsonb('from_address').$type<StoredAddress>().notNull(),
    to: jsonb('to').$type<StoredAddress[]>().notNull(),
    cc: jsonb('cc').$type<StoredAddress[]>().notNull().default([]),
    bcc: jsonb('bcc').$type<StoredAddress[]>().notNull().default([]),
    replyTo: jsonb('reply_to').$type<StoredAddress>(),
    subject: text('subject').notNull(),
    html: text('html'),
    text: text('text'),
    template: text('template'),
    templateData: jsonb('template_data').$type<Record<string, unknown>>(),
    tags: text('tags').array().notNull().default([]),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    sendAt: timestamp('send_at', { withTimezone: true }).notNull().defaultNow(),
    /** Bumped by a redrive so the new BullMQ job id differs from the finished one. */
    round: integer('round').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    provider: text('provider'),
    providerMessageId: text('provider_message_id'),
    lastError: text('last_error'),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    apiKeyId: uuid('api_key_id'),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    ...timestamps,
  },
  (t) => [
    index('messages_status_send_at_idx').on(t.status, t.sendAt),
    index('messages_created_at_idx').on(t.createdAt, t.id),
    index('messages_tags_idx').using('gin', t.tags),
    index('messages_provider_message_id_idx').on(t.providerMessageId),
    uniqueIndex('messages_idempotency_idx').on(t.apiKeyId, t.idempotencyKey),
  ],
);

export const messageEvents = pgTable(
  'message_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    provider: text('provider'),
    /** The provider's own event id (SendGrid sg_event_id): a retried webhook stores it once. */
    providerEventId: text('provider_event_id').unique(),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('message_events_message_idx').on(t.messageId, t.at, t.id)],
);

/** Addresses we must not send to (hard bounce, spam report, unsubscribe, or added by hand). */
export const suppressions = pgTable('suppressions', {
  /** Lower-cased address. */
  email: text('email').primaryKey(),
  reason: text('reason').notNull(),
  source: text('source').notNull(),
  messageId: uuid('message_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Every circuit transition of an email provider: who, when, why. */
export const providerSwaps = pgTable(
  'provider_swaps',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    provider: text('provider').notNull(),
    state: text('state').notNull(),
    reason: text('reason').notNull(),
    actor: text('actor').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('provider_swaps_at_idx').on(t.at)],
);

/**
 * Slack posts waiting for the rate-limited `slack` queue (alerts, stats). The job carries only
 * the row id; the row says which channel setting to resolve at posting time.
 */
export const slackPosts = pgTable(
  'slack_posts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').notNull(),
    /** A settings key such as alert_channel, or a channel/user id. */
    channel: text('channel').notNull(),
    text: text('text').notNull(),
    blocks: jsonb('blocks').$type<unknown[]>().notNull().default([]),
    status: text('status').notNull().default('pending'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    postedAt: timestamp('posted_at', { withTimezone: true }),
  },
  (t) => [index('slack_posts_created_at_idx').on(t.createdAt)],
);

/**
 * Briefings. A rep has at most one calendar connection; its credentials are encrypted with
 * ENCRYPTION_KEY (src/shared/crypto.ts) and its sync cursor (Google sync token, Graph delta link,
 * ICS ETag/Last-Modified) lives in `sync_state` so each run fetches only what changed.
 */
export const CONNECTION_STATUSES = ['active', 'broken'] as const;

export interface CalendarSyncState {
  /** Google: nextSyncToken of the last full/incremental sync. */
  syncToken?: string;
  /** Microsoft Graph: the @odata.deltaLink to call next. */
  deltaLink?: string;
  /** ICS: conditional GET validators. */
  etag?: string;
  lastModified?: string;
  /** The window the cursor was opened for (Graph delta links and Google time-bounded syncs keep it). */
  windowStart?: string;
  windowEnd?: string;
}

export const calendarConnections = pgTable('calendar_connections', {
  id: uuid('id').primaryKey().defaultRandom(),
  repId: uuid('rep_id')
    .notNull()
    .unique()
    .references(() => reps.id, { onDelete: 'cascade' }),
  provider: calendarSource('provider').notNull(),
  /** google: service_account | oauth; microsoft: app | delegated; ics: url. */
  authKind: text('auth_kind').notNull(),
  /** The calendar to read: Google calendar id / Graph user id or UPN; null means the rep's email. */
  calendarId: text('calendar_id'),
  /** AES-256-GCM sealed JSON (refresh token, ICS URL with its secret path). Never logged. */
  credentials: text('credentials'),
  status: text('status', { enum: CONNECTION_STATUSES }).notNull().default('active'),
  brokenReason: text('broken_reason'),
  brokenAt: timestamp('broken_at', { withTimezone: true }),
  syncState: jsonb('sync_state').$type<CalendarSyncState>().notNull().default({}),
  lastSyncedAt: timestamp('last_synced_at', { withTimezone: true }),
  ...timestamps,
});

export interface EventPerson {
  email: string;
  name?: string;
  /** accepted | declined | tentative | needsAction */
  response?: string;
  organizer?: boolean;
  self?: boolean;
}

/** Local mirror of each rep's calendar, kept by incremental sync; briefings are built from it. */
export const calendarEvents = pgTable(
  'calendar_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    repId: uuid('rep_id')
      .notNull()
      .references(() => reps.id, { onDelete: 'cascade' }),
    /** The provider's id of this instance (recurring instances have their own). */
    externalId: text('external_id').notNull(),
    title: text('title').notNull().default(''),
    description: text('description'),
    location: text('location'),
    videoUrl: text('video_url'),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    allDay: boolean('all_day').notNull().default(false),
    /** confirmed | tentative */
    status: text('status').notNull().default('confirmed'),
    /** The rep's own answer: accepted | declined | tentative | needsAction | null (organizer). */
    selfResponse: text('self_response'),
    organizer: jsonb('organizer').$type<EventPerson>(),
    attendees: jsonb('attendees').$type<EventPerson[]>().notNull().default([]),
    /** Lower-cased attendee emails, for "first meeting with" look-ups. */
    attendeeEmails: text('attendee_emails').array().notNull().default([]),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('calendar_events_rep_external_idx').on(t.repId, t.externalId),
    index('calendar_events_rep_starts_idx').on(t.repId, t.startsAt),
    index('calendar_events_attendees_idx').using('gin', t.attendeeEmails),
  ],
);

export interface PersonProfile {
  name?: string;
  title?: string;
  company?: string;
  companySize?: string;
  industry?: string;
  location?: string;
  linkedinUrl?: string;
}

/** Enrichment cache: one row per email; readers ignore expired rows, a daily purge deletes them. */
export const participants = pgTable(
  'participants',
  {
    email: text('email').primaryKey(),
    /** found | not_found */
    status: text('status').notNull(),
    provider: text('provider').notNull(),
    profile: jsonb('profile').$type<PersonProfile>().notNull().default({}),
    fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('participants_expires_at_idx').on(t.expiresAt)],
);

export const BRIEFING_STATUSES = [
  'pending',
  'prepared',
  'scheduled',
  'sent',
  'empty',
  'skipped',
  'failed',
] as const;

/** One briefing per rep and local date: the unique key is what makes "never built twice" hold. */
export const briefings = pgTable(
  'briefings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    repId: uuid('rep_id')
      .notNull()
      .references(() => reps.id, { onDelete: 'cascade' }),
    /** The rep's local calendar date (YYYY-MM-DD) in the zone they had when it was created. */
    localDate: text('local_date').notNull(),
    timeZone: text('time_zone').notNull(),
    status: text('status', { enum: BRIEFING_STATUSES }).notNull().default('pending'),
    prepareAt: timestamp('prepare_at', { withTimezone: true }).notNull(),
    deliverAt: timestamp('deliver_at', { withTimezone: true }).notNull(),
    cutoffAt: timestamp('cutoff_at', { withTimezone: true }).notNull(),
    preparedAt: timestamp('prepared_at', { withTimezone: true }),
    meetingCount: integer('meeting_count'),
    /** The BriefingModel rendered (src/briefings/briefing.model.ts). */
    content: jsonb('content').$type<Record<string, unknown>>(),
    messageId: uuid('message_id'),
    reason: text('reason'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('briefings_rep_date_idx').on(t.repId, t.localDate),
    index('briefings_status_deliver_idx').on(t.status, t.deliverAt),
  ],
);

export * from '../customers/customer.tables.ts';
export * from '../mailouts/mailout.tables.ts';
