import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Admin web UI sessions, server-side: the browser holds only a random token; the row is found by
 * its SHA-256, so a leaked table does not hand out live cookies. Readers ignore expired rows; the
 * retention purge deletes them (src/retention/retention.ts).
 */
export const adminSessions = pgTable(
  'admin_sessions',
  {
    /** SHA-256 (hex) of the cookie's token. */
    id: text('id').primaryKey(),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    /** The Slack user id (Sign in with Slack, or the rep's for another issuer); the actor of changes. */
    slackUserId: text('slack_user_id'),
    teamId: text('team_id'),
    /** Who changes mailouts: the Slack user id, else the rep id. */
    actor: text('actor').notNull(),
    name: text('name').notNull(),
    email: text('email'),
    /** Times on the pages are shown in this zone (the rep's, else UTC). */
    timeZone: text('time_zone').notNull(),
    /** Every form carries it; a POST without it is refused (403). */
    csrfToken: text('csrf_token').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('admin_sessions_expires_at_idx').on(t.expiresAt)],
);
