/**
 * How long each table that grows with traffic keeps its rows: one line per table. The hourly
 * `retention-purge` job walks this list and purges each table in small batches; the retention is read
 * from the environment variable named here (README, "Configuration"), in days (fractions allowed).
 * A new table joins with one line; its age column should be indexed (the batch looks rows up by it).
 *
 * SQL fragments are constants written here, never input: `age` and `where` are SQL over the table,
 * and `$1` in `where` is the cutoff instant (now minus the retention).
 */
export interface RetentionRule {
  /** Metric label and `config.retention` key. */
  name: string;
  table: string;
  /** The instant a row's age counts from; rows with it before the cutoff are candidates. */
  age: string;
  /** Further conditions every purged row must meet. */
  where?: string;
  defaultDays: number;
  /** The environment variable that overrides defaultDays. */
  env: string;
  /** Primary key used to address each batch (default `id`). */
  key?: string;
  /** Clear these columns instead of deleting the row (data that expires before its row does). */
  clear?: readonly string[];
  /** Rows of another table deleted with each row by ON DELETE CASCADE, counted under their own label. */
  cascade?: { name: string; table: string; column: string };
}

/** Statuses of a message that is still on its way: never purged, however old. */
const IN_FLIGHT = `status NOT IN ('queued', 'sending', 'deferred')`;

export const RETENTION = [
  {
    // 90 days after the last event: created, last changed and last event (webhooks append events
    // without changing the row) all before the cutoff. Its events go with it.
    name: 'messages',
    table: 'messages',
    age: 'created_at',
    where: `updated_at < $1 AND ${IN_FLIGHT} AND NOT EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = messages.id AND e.at >= $1)`,
    defaultDays: 90,
    env: 'RETENTION_MESSAGES_DAYS',
    cascade: { name: 'message_events', table: 'message_events', column: 'message_id' },
  },
  {
    // After this, the same Idempotency-Key names a new message (the accept path checks the age too).
    name: 'idempotency_keys',
    table: 'messages',
    age: 'created_at',
    where: 'idempotency_key IS NOT NULL',
    defaultDays: 1,
    env: 'RETENTION_IDEMPOTENCY_KEYS_DAYS',
    clear: ['idempotency_key', 'request_hash'],
  },
  {
    name: 'slack_posts',
    table: 'slack_posts',
    age: 'created_at',
    defaultDays: 30,
    env: 'RETENTION_SLACK_POSTS_DAYS',
  },
  {
    name: 'briefings',
    table: 'briefings',
    age: 'created_at',
    defaultDays: 30,
    env: 'RETENTION_BRIEFINGS_DAYS',
  },
  {
    // Only events that ended; the calendar mirror never reaches further back than this (see briefing.module.ts).
    name: 'calendar_events',
    table: 'calendar_events',
    age: 'ends_at',
    defaultDays: 30,
    env: 'RETENTION_CALENDAR_EVENTS_DAYS',
  },
  {
    // Enrollments that ended (completed, replied, bounced, unsubscribed, failed); their sends go with them.
    name: 'sequence_enrollments',
    table: 'sequence_contacts',
    age: 'updated_at',
    where: `status NOT IN ('active', 'paused')`,
    defaultDays: 365,
    env: 'RETENTION_SEQUENCE_ENROLLMENTS_DAYS',
    cascade: { name: 'sequence_sends_of_enrollments', table: 'sequence_sends', column: 'enrollment_id' },
  },
  {
    // The send history (caps count the last 24 h; replies match Message-IDs): only for ended enrollments.
    name: 'sequence_sends',
    table: 'sequence_sends',
    age: 'sent_at',
    where: `NOT EXISTS (SELECT 1 FROM sequence_contacts e WHERE e.id = sequence_sends.enrollment_id AND e.status IN ('active', 'paused'))`,
    defaultDays: 180,
    env: 'RETENTION_SEQUENCE_SENDS_DAYS',
  },
  {
    name: 'provider_swaps',
    table: 'provider_swaps',
    age: 'at',
    defaultDays: 365,
    env: 'RETENTION_PROVIDER_SWAPS_DAYS',
  },
  {
    // Daily stats runs (one per stats channel or recipient and day, with the numbers computed).
    name: 'stats_runs',
    table: 'stats_runs',
    age: 'created_at',
    defaultDays: 90,
    env: 'RETENTION_STATS_RUNS_DAYS',
  },
  {
    // Past appointments (cancelled or not) counted from their end; notes and outbox mails go with them.
    name: 'appointments',
    table: 'appointments',
    age: 'ends_at',
    defaultDays: 730,
    env: 'RETENTION_APPOINTMENTS_DAYS',
  },
  {
    // Admin web UI sessions, a day after they expired (readers ignore expired ones already).
    name: 'admin_sessions',
    table: 'admin_sessions',
    age: 'expires_at',
    defaultDays: 1,
    env: 'RETENTION_ADMIN_SESSIONS_DAYS',
  },
  { name: 'audit_log', table: 'audit_log', age: 'at', defaultDays: 365, env: 'AUDIT_LOG_RETENTION_DAYS' },
  {
    // Counted from the end of its mailout (ended_at, else the planned ends_at), never while it can still send.
    name: 'mailout_messages',
    table: 'mailout_messages',
    age: 'created_at',
    where: `EXISTS (SELECT 1 FROM mailouts m WHERE m.id = mailout_messages.mailout_id AND coalesce(m.ended_at, m.ends_at) < $1)`,
    defaultDays: 180,
    env: 'MAILOUT_RETENTION_DAYS',
  },
  {
    // Attempts go with their message (also those left behind by a deleted message row).
    name: 'mailout_message_attempts',
    table: 'mailout_message_attempts',
    age: 'at',
    where: `NOT EXISTS (SELECT 1 FROM mailout_messages mm JOIN mailouts m ON m.id = mm.mailout_id
      WHERE mm.id = mailout_message_attempts.message_id AND coalesce(m.ended_at, m.ends_at) >= $1)`,
    defaultDays: 180,
    env: 'MAILOUT_RETENTION_DAYS',
  },
  {
    // Customers' audit rows (imports, edits, deletions) follow the mailout retention, not the audit log's.
    name: 'customer_audit',
    table: 'audit_log',
    age: 'at',
    where: `action LIKE 'customer.%'`,
    defaultDays: 180,
    env: 'MAILOUT_RETENTION_DAYS',
  },
] as const satisfies readonly RetentionRule[];

export type RetentionName = (typeof RETENTION)[number]['name'];
