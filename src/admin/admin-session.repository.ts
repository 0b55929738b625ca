import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

export interface AdminUser {
  issuer: string;
  subject: string;
  slackUserId: string | null;
  teamId: string | null;
  actor: string;
  name: string;
  email: string | null;
  timeZone: string;
}

export interface AdminSession extends AdminUser {
  csrfToken: string;
  expiresAt: Date;
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

interface SessionRow {
  issuer: string;
  subject: string;
  slack_user_id: string | null;
  team_id: string | null;
  actor: string;
  name: string;
  email: string | null;
  time_zone: string;
  csrf_token: string;
  expires_at: Date;
}

/** Server-side sessions of the admin web UI (table admin_sessions). */
export class AdminSessionRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Stores a new session and returns the token for the cookie (only its hash is stored). */
  async create(user: AdminUser, expiresAt: Date): Promise<{ token: string; csrfToken: string }> {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    await this.pool.query(
      `INSERT INTO admin_sessions (id, issuer, subject, slack_user_id, team_id, actor, name, email, time_zone, csrf_token, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        hash(token),
        user.issuer,
        user.subject,
        user.slackUserId,
        user.teamId,
        user.actor,
        user.name,
        user.email,
        user.timeZone,
        csrfToken,
        expiresAt,
      ],
    );
    return { token, csrfToken };
  }

  /** The live session a cookie names; an expired or unknown one is undefined. */
  async find(token: string, now: Date): Promise<AdminSession | undefined> {
    const { rows } = await this.pool.query<SessionRow>(
      `SELECT issuer, subject, slack_user_id, team_id, actor, name, email, time_zone, csrf_token, expires_at
       FROM admin_sessions WHERE id = $1 AND expires_at > $2`,
      [hash(token), now],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      issuer: row.issuer,
      subject: row.subject,
      slackUserId: row.slack_user_id,
      teamId: row.team_id,
      actor: row.actor,
      name: row.name,
      email: row.email,
      timeZone: row.time_zone,
      csrfToken: row.csrf_token,
      expiresAt: row.expires_at,
    };
  }

  async delete(token: string): Promise<void> {
    await this.pool.query('DELETE FROM admin_sessions WHERE id = $1', [hash(token)]);
  }
}
