import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  customType,
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
  /**
   * What the key may do (src/api-keys/scopes.ts). The default only fills keys created before
   * scopes existed, which keep full access; new keys always get their scopes written explicitly.
   */
  scopes: text('scopes').array().notNull().default(sql`'{admin}'::text[]`),
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
    /** The worker attempt that owns the message while `sending`; `sent` is only accepted from it. */
    claimToken: uuid('claim_token'),
    /** The owner's claim is void after this; another worker may then claim the message. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    /** A provider call whose result never came (a timeout after the request went out): who, since when. */
    unknownOutcomeProvider: text('unknown_outcome_provider'),
    unknownOutcomeAt: timestamp('unknown_outcome_at', { withTimezone: true }),
    /** Extra headers from the allow-list (List-Unsubscribe, In-Reply-To, References, X-…). */
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    /** The Message-ID the recipient sees ("<uuid@domain>"), set at accept time; replies quote it. */
    messageIdHeader: text('message_id_header'),
    ...timestamps,
  },
  (t) => [
    index('messages_status_send_at_idx').on(t.status, t.sendAt),
    index('messages_message_id_header_idx').on(t.messageIdHeader),
    index('messages_created_at_idx').on(t.createdAt, t.id),
    // A key without read:all lists only its own messages.
    index('messages_api_key_created_idx').on(t.apiKeyId, t.createdAt, t.id),
    index('messages_tags_idx').using('gin', t.tags),
    index('messages_provider_message_id_idx').on(t.providerMessageId),
    uniqueIndex('messages_idempotency_idx').on(t.apiKeyId, t.idempotencyKey),
    // The retention purge finds keys to release by age (src/retention/retention.ts).
    index('messages_idempotency_created_idx').on(t.createdAt).where(sql`${t.idempotencyKey} IS NOT NULL`),
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

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

/** A message's attachments (content kept here, never in job payloads); position keeps their order. */
export const messageAttachments = pgTable(
  'message_attachments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    filename: text('filename').notNull(),
    /** With parameters, e.g. "text/calendar; method=REQUEST". */
    contentType: text('content_type').notNull(),
    /** attachment | inline */
    disposition: text('disposition').notNull().default('attachment'),
    /** For inline parts referenced from the HTML as cid:<content_id>. */
    contentId: text('content_id'),
    size: integer('size').notNull(),
    content: bytea('content').notNull(),
  },
  (t) => [uniqueIndex('message_attachments_message_idx').on(t.messageId, t.position)],
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
 * Every Slack message Briefly posts (alerts, DMs, cards, stats), one row per message, written before
 * the job that posts it (the job carries only the row id). `channel` is the target as asked: a
 * settings key such as alert_channel (resolved when posting) or a channel/user id; `channel_id` and
 * `ts` are where Slack put it, so the message can be `chat.update`d or replied to later.
 * Statuses: pending, posted, held (its channel is broken; re-queued when the setting is saved),
 * waiting (a reply whose parent is not posted yet), redirected (no channel set: copies went to the
 * admins by DM, rows with `copy_of`), failed, skipped.
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
    /** Caller's name for the message ("alert-incident:<id>", "mailout-approval:<id>"); unique. */
    key: text('key'),
    /** The conversation id Slack posted into (C…, G…, D…): with `ts`, what chat.update needs. */
    channelId: text('channel_id'),
    ts: text('ts'),
    /** For a reply: the thread parent's ts (always the root message's, never another reply's). */
    threadTs: text('thread_ts'),
    parentId: uuid('parent_id'),
    /** An admin's DM copy of the post with this id (its channel setting was not set). */
    copyOf: uuid('copy_of'),
    /** Bumped by every post() for the key; `posted_revision` is the one Slack shows. */
    revision: integer('revision').notNull().default(1),
    postedRevision: integer('posted_revision'),
    /** Post in a thread and also to the channel (reply_broadcast), e.g. "resolved". */
    broadcast: boolean('broadcast').notNull().default(false),
    updatedAt: timestamp('updated_at', { withTimezone: true }),
    /** A delayed post (a briefing DM at 08:00): the sweeper leaves it alone until then. */
    notBefore: timestamp('not_before', { withTimezone: true }),
    /** The last job enqueued for the row: the sweeper re-enqueues rows whose job Redis lost. */
    jobId: text('job_id'),
  },
  (t) => [
    index('slack_posts_created_at_idx').on(t.createdAt),
    uniqueIndex('slack_posts_key_idx').on(t.key),
    index('slack_posts_status_channel_idx').on(t.status, t.channel),
    index('slack_posts_parent_idx').on(t.parentId),
    index('slack_posts_copy_of_idx').on(t.copyOf),
  ],
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
  /** ICS: the rep's zone the feed's floating times were read in (a new zone re-reads the feed). */
  timeZone?: string;
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
    index('calendar_events_ends_at_idx').on(t.endsAt),
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
    index('briefings_created_at_idx').on(t.createdAt),
  ],
);

export * from '../admin/admin.tables.ts';
export * from '../appointments/appointment.tables.ts';
export * from '../customers/customer.tables.ts';
export * from '../mailouts/mailout.tables.ts';
export * from '../sequences/sequence.tables.ts';
export * from '../stats/stats.tables.ts';
