import type pg from 'pg';
import type { PersonProfile } from '../db/schema.ts';

export type ParticipantStatus = 'found' | 'not_found';

export interface ParticipantRow {
  /** Lower-cased. */
  email: string;
  status: ParticipantStatus;
  provider: string;
  profile: PersonProfile;
  fetchedAt: Date;
  expiresAt: Date;
}

const COLUMNS = `email, status, provider, profile, fetched_at AS "fetchedAt", expires_at AS "expiresAt"`;

/** The enrichment cache (table `participants`). Expired rows are invisible to readers before the purge runs. */
export class ParticipantRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Rows still fresh at `now`, keyed by lower-cased email; emails without one are absent. */
  async getFresh(emails: string[], now: Date): Promise<Map<string, ParticipantRow>> {
    const wanted = [...new Set(emails.map((e) => e.trim().toLowerCase()))].filter(Boolean);
    if (wanted.length === 0) return new Map();
    const { rows } = await this.pool.query<ParticipantRow>(
      `SELECT ${COLUMNS} FROM participants WHERE email = ANY($1::text[]) AND expires_at > $2`,
      [wanted, now],
    );
    return new Map(rows.map((row) => [row.email, row]));
  }

  async upsert(row: ParticipantRow): Promise<void> {
    await this.pool.query(
      `INSERT INTO participants (email, status, provider, profile, fetched_at, expires_at)
       VALUES (lower($1), $2, $3, $4, $5, $6)
       ON CONFLICT (email) DO UPDATE SET status = excluded.status, provider = excluded.provider,
         profile = excluded.profile, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
      [row.email.trim(), row.status, row.provider, JSON.stringify(row.profile), row.fetchedAt, row.expiresAt],
    );
  }

  /** Deletes what may no longer be kept ("data 30 days old or older"): rows with expires_at <= now. */
  async purgeExpired(now: Date): Promise<number> {
    const result = await this.pool.query('DELETE FROM participants WHERE expires_at <= $1', [now]);
    return result.rowCount ?? 0;
  }
}
