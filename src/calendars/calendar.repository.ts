import type pg from 'pg';
import { type AuditEntry, recordAudit } from '../audit/audit.repository.ts';
import type { CalendarSyncState, EventPerson } from '../db/schema.ts';
import type { CalendarEventInput } from './calendar-provider.ts';

export interface ConnectionRow {
  id: string;
  rep_id: string;
  provider: 'google' | 'microsoft' | 'ics';
  auth_kind: string;
  calendar_id: string | null;
  credentials: string | null;
  status: 'active' | 'broken';
  broken_reason: string | null;
  broken_at: Date | null;
  sync_state: CalendarSyncState;
  last_synced_at: Date | null;
  updated_at: Date;
}

export interface MirrorEvent {
  external_id: string;
  title: string;
  location: string | null;
  video_url: string | null;
  starts_at: Date;
  ends_at: Date;
  all_day: boolean;
  status: string;
  self_response: string | null;
  organizer: EventPerson | null;
  attendees: EventPerson[];
}

/**
 * Calendar connections and the local event mirror. Applying a sync is one transaction, so a
 * crash mid-way leaves the previous mirror and cursor, and the next run simply repeats.
 */
export class CalendarRepository {
  constructor(private readonly pool: pg.Pool) {}

  async connection(repId: string): Promise<ConnectionRow | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM calendar_connections WHERE rep_id = $1', [repId]);
    return rows[0];
  }

  /** Connects (or reconnects) a rep's calendar: a new credential starts a fresh full sync. */
  async connect(input: {
    repId: string;
    provider: ConnectionRow['provider'];
    authKind: string;
    calendarId?: string | null;
    credentials?: string | null;
    /** Written in the same transaction as the connection. */
    audit?: AuditEntry;
  }): Promise<ConnectionRow> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(
        `INSERT INTO calendar_connections (rep_id, provider, auth_kind, calendar_id, credentials)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (rep_id) DO UPDATE SET provider = EXCLUDED.provider, auth_kind = EXCLUDED.auth_kind,
           calendar_id = EXCLUDED.calendar_id, credentials = EXCLUDED.credentials, status = 'active',
           broken_reason = NULL, broken_at = NULL, sync_state = '{}', last_synced_at = NULL, updated_at = now()
         RETURNING *`,
        [input.repId, input.provider, input.authKind, input.calendarId ?? null, input.credentials ?? null],
      );
      await client.query('UPDATE reps SET calendar_source = $2, updated_at = now() WHERE id = $1', [
        input.repId,
        input.provider,
      ]);
      // Events from another calendar must not linger in the mirror.
      await client.query('DELETE FROM calendar_events WHERE rep_id = $1', [input.repId]);
      if (input.audit) await recordAudit(client, input.audit);
      await client.query('COMMIT');
      return rows[0];
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Swaps in a renewed credential (rotated refresh token, updated token cache) when the row still
   * holds the one the sync started with: a reconnect that happened meanwhile is not overwritten.
   */
  async replaceCredentials(connectionId: string, previous: string | null, next: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE calendar_connections SET credentials = $3, updated_at = now()
       WHERE id = $1 AND credentials IS NOT DISTINCT FROM $2`,
      [connectionId, previous, next],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Marks the connection broken; answers true only for the call that broke it (alert once). */
  async markBroken(repId: string, reason: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE calendar_connections SET status = 'broken', broken_reason = $2, broken_at = now(), updated_at = now()
       WHERE rep_id = $1 AND status = 'active'`,
      [repId, reason],
    );
    return (rowCount ?? 0) > 0;
  }

  async clearMirror(repId: string): Promise<void> {
    await this.pool.query('DELETE FROM calendar_events WHERE rep_id = $1', [repId]);
    await this.pool.query(
      `UPDATE calendar_connections SET sync_state = '{}', updated_at = now() WHERE rep_id = $1`,
      [repId],
    );
  }

  /**
   * Applies one sync round: upserts, removals and the new cursor together. A full round also
   * drops mirrored events from `fullFrom` on that it did not return (history before the window stays,
   * it is what "first meeting with" is computed from).
   */
  async apply(
    repId: string,
    round: { full: boolean; events: CalendarEventInput[]; removed: string[]; state: CalendarSyncState },
    fullFrom: Date,
  ): Promise<{ upserted: number; removed: number }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // A feed may list an id twice (Graph replays, duplicate ICS UIDs): the last one wins.
      const byId = new Map(round.events.map((e) => [e.externalId, e]));
      const events = [...byId.values()];
      let removed = 0;
      if (round.full) {
        const result = await client.query(
          `DELETE FROM calendar_events WHERE rep_id = $1 AND ends_at >= $2 AND NOT (external_id = ANY($3::text[]))`,
          [repId, fullFrom, events.map((e) => e.externalId)],
        );
        removed += result.rowCount ?? 0;
      }
      if (round.removed.length > 0) {
        const result = await client.query(
          'DELETE FROM calendar_events WHERE rep_id = $1 AND external_id = ANY($2::text[])',
          [repId, round.removed],
        );
        removed += result.rowCount ?? 0;
      }
      for (let i = 0; i < events.length; i += 500) {
        await upsertEvents(client, repId, events.slice(i, i + 500));
      }
      await client.query(
        `UPDATE calendar_connections SET sync_state = $2, last_synced_at = now(), updated_at = now() WHERE rep_id = $1`,
        [repId, JSON.stringify(round.state)],
      );
      await client.query('COMMIT');
      return { upserted: events.length, removed };
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  async touch(repId: string): Promise<void> {
    await this.pool.query(
      'UPDATE calendar_connections SET last_synced_at = now(), updated_at = now() WHERE rep_id = $1',
      [repId],
    );
  }

  /** Events overlapping [start, end), earliest first. */
  async eventsBetween(repId: string, start: Date, end: Date): Promise<MirrorEvent[]> {
    const { rows } = await this.pool.query(
      `SELECT external_id, title, location, video_url, starts_at, ends_at, all_day, status, self_response,
              organizer, attendees
       FROM calendar_events WHERE rep_id = $1 AND starts_at < $3 AND ends_at > $2
       ORDER BY starts_at, title`,
      [repId, start, end],
    );
    return rows;
  }

  /** Of `emails`, those that appear in one of the rep's events starting before `before`. */
  async metBefore(repId: string, emails: string[], before: Date): Promise<Set<string>> {
    if (emails.length === 0) return new Set();
    const { rows } = await this.pool.query(
      `SELECT DISTINCT e.email FROM calendar_events ce, unnest(ce.attendee_emails) AS e(email)
       WHERE ce.rep_id = $1 AND ce.starts_at < $3 AND ce.attendee_emails && $2::text[] AND e.email = ANY($2::text[])`,
      [repId, emails, before],
    );
    return new Set(rows.map((r) => r.email as string));
  }
}

async function upsertEvents(
  client: pg.PoolClient,
  repId: string,
  events: CalendarEventInput[],
): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e) => ({
    external_id: e.externalId,
    title: e.title.slice(0, 1_000),
    description: e.description?.slice(0, 10_000) ?? null,
    location: e.location?.slice(0, 1_000) ?? null,
    video_url: e.videoUrl ?? null,
    starts_at: e.startsAt.toISOString(),
    ends_at: e.endsAt.toISOString(),
    all_day: e.allDay,
    status: e.status,
    self_response: e.selfResponse ?? null,
    organizer: e.organizer ?? null,
    attendees: e.attendees,
    attendee_emails: [...new Set(e.attendees.map((a) => a.email.toLowerCase()))],
  }));
  await client.query(
    `INSERT INTO calendar_events (rep_id, external_id, title, description, location, video_url, starts_at, ends_at,
       all_day, status, self_response, organizer, attendees, attendee_emails)
     SELECT $1, r.external_id, r.title, r.description, r.location, r.video_url, r.starts_at, r.ends_at, r.all_day,
       r.status, r.self_response, r.organizer, r.attendees, r.attendee_emails
     FROM jsonb_to_recordset($2::jsonb) AS r(external_id text, title text, description text, location text,
       video_url text, starts_at timestamptz, ends_at timestamptz, all_day boolean, status text, self_response text,
       organizer jsonb, attendees jsonb, attendee_emails text[])
     ON CONFLICT (rep_id, external_id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
       location = EXCLUDED.location, video_url = EXCLUDED.video_url, starts_at = EXCLUDED.starts_at,
       ends_at = EXCLUDED.ends_at, all_day = EXCLUDED.all_day, status = EXCLUDED.status,
       self_response = EXCLUDED.self_response, organizer = EXCLUDED.organizer, attendees = EXCLUDED.attendees,
       attendee_emails = EXCLUDED.attendee_emails, updated_at = now()`,
    [repId, JSON.stringify(rows)],
  );
}
