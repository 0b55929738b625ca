import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { MESSAGE_STATUSES, StoredAddress } from '../db/schema.ts';
import { MicroBatcher } from '../shared/micro-batcher.ts';
import type { MessageFilter } from './message.schemas.ts';
import {
  type AttachmentDisposition,
  type AttachmentInput,
  normaliseMessageIdHeader,
} from './message-content.ts';

export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export type Priority = 'high' | 'normal' | 'low';

export interface MessageRow {
  id: string;
  kind: string;
  status: MessageStatus;
  priority: Priority;
  from_address: StoredAddress;
  to: StoredAddress[];
  cc: StoredAddress[];
  bcc: StoredAddress[];
  reply_to: StoredAddress | null;
  subject: string;
  html: string | null;
  text: string | null;
  template: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  send_at: Date;
  round: number;
  attempts: number;
  provider: string | null;
  provider_message_id: string | null;
  last_error: string | null;
  sent_at: Date | null;
  created_at: Date;
  updated_at: Date;
  headers: Record<string, string>;
  message_id_header: string | null;
}

/** An attachment without its content (what GET /v1/messages/{id} shows). */
export interface AttachmentInfo {
  filename: string;
  content_type: string;
  disposition: AttachmentDisposition;
  content_id: string | null;
  size: number;
}

/** An attachment as the worker sends it: content base64. */
export interface AttachmentToSend extends AttachmentInfo {
  content: string;
}

export interface EventRow {
  type: string;
  at: Date;
  provider: string | null;
  detail: Record<string, unknown>;
}

export interface NewMessage {
  /**
   * A caller-chosen id makes an internal send idempotent: inserting the same id again stores
   * nothing and answers the existing row (briefings reserve the id before sending).
   */
  id?: string;
  kind: string;
  priority: Priority;
  from: StoredAddress;
  to: StoredAddress[];
  cc: StoredAddress[];
  bcc: StoredAddress[];
  replyTo?: StoredAddress;
  subject: string;
  html?: string;
  text?: string;
  template?: string;
  templateData?: Record<string, unknown>;
  tags: string[];
  metadata: Record<string, unknown>;
  sendAt?: Date;
  apiKeyId?: string;
  idempotencyKey?: string;
  requestHash?: string;
  /** Already checked (message-content.ts). */
  headers?: Record<string, string>;
  messageIdHeader?: string;
  attachments?: AttachmentInput[];
}

/** A message claimed for sending: suppressed recipients and how many attachments it has. */
export type ClaimedMessage = MessageRow & { suppressed: string[]; attachment_count: number };

/** What the delivery worker needs to enqueue a job: the deterministic id comes from id + round. */
export interface QueueRef {
  id: string;
  round: number;
  priority: Priority;
  send_at: Date;
}

export interface InsertResult {
  row: QueueRef & { status: MessageStatus; message_id_header: string | null };
  created: boolean;
  requestHash?: string;
}

export interface ProviderEvent {
  eventId: string;
  type: string;
  at: Date;
  email: string;
  messageId?: string;
  providerMessageId?: string;
  /** The Message-ID the provider reports it sent (SendGrid's smtp-id): recorded if it replaced ours. */
  messageIdHeader?: string;
  detail: Record<string, unknown>;
  suppress: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID.test(value);

/** Webhook event types that are also message statuses (others, like processed, are trail only). */
const STATUS_EVENTS = new Set<string>([
  'delivered',
  'opened',
  'clicked',
  'bounced',
  'dropped',
  'spam_report',
  'unsubscribed',
]);

/**
 * The delivery layer's storage. Hot-path statements are single SQL statements (CTEs) so a state
 * change and its trail event are written atomically without a transaction round trip.
 */
export class MessageRepository {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Inserts the message with its `accepted` and `queued` events in one statement. With an
   * idempotency key already used by this API key, nothing is inserted and the existing row is returned.
   */
  /**
   * Inserts the message with its `accepted` and `queued` events. Concurrent calls are batched into
   * one statement (see MicroBatcher): under load that is one commit for many accepted messages
   * instead of one each. With an idempotency key already used by this API key, nothing is inserted
   * and the existing row is returned.
   */
  insert(m: NewMessage): Promise<InsertResult> {
    // A message with attachments (up to MESSAGE_ATTACHMENTS_MAX_BYTES each) gets a statement of its
    // own: batching 200 of them would make one statement of gigabytes.
    if (m.attachments?.length) return this.insertMany([m]).then((results) => results[0] as InsertResult);
    return this.inserts.add(m);
  }

  private readonly inserts = new MicroBatcher<NewMessage, InsertResult>(
    (batch) => this.insertMany(batch),
    200,
  );

  private async insertMany(batch: NewMessage[]): Promise<InsertResult[]> {
    const ids = batch.map((m) => m.id ?? randomUUID());
    const params: unknown[] = [];
    const values = batch.map((m, index) => {
      const row = [
        ids[index],
        m.kind,
        m.priority,
        JSON.stringify(m.from),
        JSON.stringify(m.to),
        JSON.stringify(m.cc),
        JSON.stringify(m.bcc),
        m.replyTo ? JSON.stringify(m.replyTo) : null,
        m.subject,
        m.html ?? null,
        m.text ?? null,
        m.template ?? null,
        m.templateData ? JSON.stringify(m.templateData) : null,
        m.tags,
        JSON.stringify(m.metadata),
        m.sendAt ?? null,
        m.apiKeyId ?? null,
        m.idempotencyKey ?? null,
        m.requestHash ?? null,
        JSON.stringify(m.headers ?? {}),
        m.messageIdHeader ?? null,
      ];
      const base = params.length;
      params.push(...row);
      const p = row.map((_, i) => `$${base + i + 1}`);
      p[15] = `coalesce(${p[15]}::timestamptz, now())`;
      p[0] = `${p[0]}::uuid`;
      p[13] = `${p[13]}::text[]`;
      p[16] = `${p[16]}::uuid`;
      p[19] = `${p[19]}::jsonb`;
      return `(${p.join(', ')})`;
    });
    const attachments = batch.flatMap((m, index) =>
      (m.attachments ?? []).map((a, position) => ({ ...a, messageId: ids[index], position })),
    );
    let attachmentsCte = '';
    if (attachments.length > 0) {
      const base = params.length;
      params.push(
        attachments.map((a) => a.messageId),
        attachments.map((a) => a.position),
        attachments.map((a) => a.filename),
        attachments.map((a) => a.contentType),
        attachments.map((a) => a.disposition ?? 'attachment'),
        attachments.map((a) => a.contentId ?? null),
        attachments.map((a) => a.content.length),
        attachments.map((a) => a.content),
      );
      // Only for rows this statement created: a replayed idempotent insert keeps its first attachments.
      attachmentsCte = `, a AS (
         INSERT INTO message_attachments (message_id, position, filename, content_type, disposition, content_id, size, content)
         SELECT v.* FROM unnest($${base + 1}::uuid[], $${base + 2}::int[], $${base + 3}::text[], $${base + 4}::text[],
           $${base + 5}::text[], $${base + 6}::text[], $${base + 7}::int[], $${base + 8}::bytea[])
           AS v(message_id, position, filename, content_type, disposition, content_id, size, content)
         WHERE v.message_id IN (SELECT id FROM m)
       )`;
    }
    const { rows } = await this.pool.query(
      `WITH m AS (
         INSERT INTO messages (id, kind, priority, from_address, "to", cc, bcc, reply_to, subject, html, text,
           template, template_data, tags, metadata, send_at, api_key_id, idempotency_key, request_hash,
           headers, message_id_header)
         VALUES ${values.join(', ')}
         ON CONFLICT DO NOTHING
         RETURNING id, round, priority, send_at, status, message_id_header
       ), e AS (
         INSERT INTO message_events (message_id, type) SELECT id, 'accepted' FROM m UNION ALL SELECT id, 'queued' FROM m
       )${attachmentsCte}
       SELECT * FROM m`,
      params,
    );
    const created = new Map<string, InsertResult['row']>(rows.map((r) => [r.id, r]));
    return Promise.all(
      batch.map(async (m, index): Promise<InsertResult> => {
        const row = created.get(ids[index] ?? '');
        if (row) return { row, created: true };
        const existing = m.id
          ? await this.pool.query(
              'SELECT id, round, priority, send_at, status, message_id_header, request_hash FROM messages WHERE id = $1',
              [m.id],
            )
          : await this.pool.query(
              'SELECT id, round, priority, send_at, status, message_id_header, request_hash FROM messages WHERE api_key_id = $1 AND idempotency_key = $2',
              [m.apiKeyId, m.idempotencyKey],
            );
        const found = existing.rows[0];
        if (!found) throw new Error('idempotent insert found neither a new nor an existing row');
        return { row: found, created: false, requestHash: found.request_hash };
      }),
    );
  }

  async get(id: string): Promise<MessageRow | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.pool.query('SELECT * FROM messages WHERE id = $1', [id]);
    return rows[0];
  }

  /** Attachment metadata in order, without content. */
  async attachments(id: string): Promise<AttachmentInfo[]> {
    if (!isUuid(id)) return [];
    const { rows } = await this.pool.query(
      `SELECT filename, content_type, disposition, content_id, size FROM message_attachments
       WHERE message_id = $1 ORDER BY position`,
      [id],
    );
    return rows;
  }

  /** Attachments with content (base64), in order: what the worker hands to the provider. */
  async attachmentsToSend(id: string): Promise<AttachmentToSend[]> {
    const { rows } = await this.pool.query(
      `SELECT filename, content_type, disposition, content_id, size, content FROM message_attachments
       WHERE message_id = $1 ORDER BY position`,
      [id],
    );
    return rows.map((row: AttachmentInfo & { content: Buffer }) => ({
      ...row,
      content: row.content.toString('base64'),
    }));
  }

  /**
   * The message whose Message-ID is this ("<a@b>" or "a@b"): how a reply's In-Reply-To or
   * References finds the message it answers.
   */
  async findByMessageIdHeader(value: string): Promise<MessageRow | undefined> {
    const header = normaliseMessageIdHeader(value);
    if (header === '<>') return undefined;
    const { rows } = await this.pool.query(
      'SELECT * FROM messages WHERE message_id_header = $1 ORDER BY created_at DESC LIMIT 1',
      [header],
    );
    return rows[0];
  }

  async events(id: string): Promise<EventRow[]> {
    const { rows } = await this.pool.query(
      "SELECT type, at, provider, detail FROM message_events WHERE message_id = $1 ORDER BY date_trunc('second', at), id",
      [id],
    );
    return rows;
  }

  async list(
    filter: MessageFilter,
    limit: number,
    cursor?: { createdAt: Date; id: string },
  ): Promise<MessageRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.status) add('status = ?', filter.status);
    if (filter.tag) add('tags @> ARRAY[?]::text[]', filter.tag);
    if (filter.since) add('created_at >= ?', filter.since);
    if (filter.until) add('created_at < ?', filter.until);
    if (cursor) {
      params.push(cursor.createdAt, cursor.id);
      where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(limit);
    const { rows } = await this.pool.query(
      `SELECT * FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows;
  }

  /**
   * Moves a due message to `sending` (also from `sending`: a worker that died mid-send left it
   * there, and its stalled job is being retried) and returns it with any suppressed recipients.
   * Undefined when the message is gone or no longer sendable (sent, cancelled, ...). Concurrent
   * claims from one worker process share a statement.
   */
  claim(id: string): Promise<ClaimedMessage | undefined> {
    return this.claims.add(id);
  }

  private readonly claims = new MicroBatcher<string, ClaimedMessage | undefined>(async (ids) => {
    const { rows } = await this.pool.query(
      `WITH m AS (
           UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = now()
           WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'deferred', 'sending')
           RETURNING *
         ), e AS (
           INSERT INTO message_events (message_id, type, detail)
           SELECT id, 'sending', jsonb_build_object('attempt', attempts) FROM m
         )
         SELECT m.*, coalesce((
           SELECT array_agg(s.email) FROM suppressions s
           WHERE s.email IN (SELECT lower(a->>'email') FROM jsonb_array_elements(m."to" || m.cc || m.bcc) a)
         ), '{}') AS suppressed,
         -- Counted in the same statement (one index probe); contents are read apart, one message at a
         -- time, so a batch of claims never carries megabytes of attachments.
         (SELECT count(*)::int FROM message_attachments a WHERE a.message_id = m.id) AS attachment_count
         FROM m`,
      [[...new Set(ids)]],
    );
    const byId = new Map(rows.map((row) => [row.id as string, row]));
    return ids.map((id) => byId.get(id));
  }, 100);

  /** Records the provider's acceptance; batched like claim(). */
  markSent(
    id: string,
    provider: string,
    providerMessageId: string | undefined,
    detail: Record<string, unknown>,
  ): Promise<undefined> {
    return this.sents.add({ id, provider, providerMessageId, detail });
  }

  private readonly sents = new MicroBatcher<
    { id: string; provider: string; providerMessageId: string | undefined; detail: Record<string, unknown> },
    undefined
  >(async (batch) => {
    await this.pool.query(
      `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) AS v(id, provider, provider_message_id, detail)
       ), m AS (
         UPDATE messages SET provider = v.provider, provider_message_id = v.provider_message_id, sent_at = now(),
           last_error = NULL, updated_at = now(),
           status = CASE WHEN message_status_rank(messages.status) < message_status_rank('sent') THEN 'sent' ELSE messages.status END
         FROM v WHERE messages.id = v.id
         RETURNING messages.id, v.provider, v.detail
       )
       INSERT INTO message_events (message_id, type, provider, detail) SELECT id, 'sent', provider, detail FROM m`,
      [
        batch.map((b) => b.id),
        batch.map((b) => b.provider),
        batch.map((b) => b.providerMessageId ?? null),
        batch.map((b) => JSON.stringify(b.detail)),
      ],
    );
    return batch.map(() => undefined);
  }, 100);

  /** Records a state the worker reached (deferred, failed, suppressed) with its trail event. */
  async markStatus(
    id: string,
    status: 'deferred' | 'failed' | 'suppressed',
    error: string | null,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await this.pool.query(
      `WITH m AS (
         UPDATE messages SET status = $2, last_error = $3, updated_at = now()
         WHERE id = $1 AND status = 'sending' RETURNING id
       )
       INSERT INTO message_events (message_id, type, provider, detail) SELECT id, $2, $4, $5 FROM m`,
      [id, status, error, (detail.provider as string | undefined) ?? null, JSON.stringify(detail)],
    );
  }

  /** Cancels a message that has not started sending. Returns the status it has afterwards. */
  async cancel(id: string, actor: string): Promise<{ cancelled: boolean; row?: MessageRow }> {
    const { rows } = await this.pool.query(
      `WITH m AS (
         UPDATE messages SET status = 'cancelled', updated_at = now()
         WHERE id = $1 AND status IN ('queued', 'deferred') RETURNING *
       ), e AS (
         INSERT INTO message_events (message_id, type, detail) SELECT id, 'cancelled', jsonb_build_object('by', $2::text) FROM m
       )
       SELECT * FROM m`,
      [id, actor],
    );
    if (rows[0]) return { cancelled: true, row: rows[0] };
    return { cancelled: false, row: await this.get(id) };
  }

  /** Puts matching failed (or deferred) messages back in the queue with a new round. */
  async redrive(
    filter: { status: 'failed' | 'deferred'; tag?: string; since?: string; until?: string; ids?: string[] },
    limit: number,
    actor: string,
  ): Promise<QueueRef[]> {
    const where = ['status = $1'];
    const params: unknown[] = [filter.status];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.tag) add('tags @> ARRAY[?]::text[]', filter.tag);
    if (filter.since) add('created_at >= ?', filter.since);
    if (filter.until) add('created_at < ?', filter.until);
    if (filter.ids) add('id = ANY(?::uuid[])', filter.ids);
    params.push(limit, actor);
    const { rows } = await this.pool.query(
      `WITH picked AS (
         SELECT id FROM messages WHERE ${where.join(' AND ')} ORDER BY created_at LIMIT $${params.length - 1} FOR UPDATE SKIP LOCKED
       ), m AS (
         UPDATE messages SET status = 'queued', round = round + 1, attempts = 0, last_error = NULL,
           send_at = greatest(send_at, now()), updated_at = now()
         WHERE id IN (SELECT id FROM picked) RETURNING id, round, priority, send_at
       ), e AS (
         INSERT INTO message_events (message_id, type, detail)
         SELECT id, 'queued', jsonb_build_object('redrive', true, 'by', $${params.length}::text) FROM m
       )
       SELECT * FROM m`,
      params,
    );
    return rows;
  }

  /**
   * Due messages whose job may be missing from Redis: queued or deferred and due, or stuck in
   * `sending` longer than a worker lock can last (the worker died and Redis lost the job).
   */
  async dueForSweep(stuckAfterMs: number, limit: number): Promise<QueueRef[]> {
    const { rows } = await this.pool.query(
      `SELECT id, round, priority, send_at FROM messages
       WHERE (status IN ('queued', 'deferred') AND send_at <= now())
          OR (status = 'sending' AND updated_at < now() - make_interval(secs => $1::double precision / 1000))
       ORDER BY send_at LIMIT $2`,
      [stuckAfterMs, limit],
    );
    return rows;
  }

  async deferred(limit: number): Promise<QueueRef[]> {
    const { rows } = await this.pool.query(
      `SELECT id, round, priority, send_at FROM messages WHERE status = 'deferred' ORDER BY send_at LIMIT $1`,
      [limit],
    );
    return rows;
  }

  /**
   * Stores provider webhook events idempotently (one row per provider event id) and moves each
   * message's status only forward (message_status_rank), so retries and reordering are harmless.
   * Returns how many events were new and how many referred to no message of ours.
   */
  async applyProviderEvents(
    provider: string,
    events: ProviderEvent[],
  ): Promise<{ stored: number; duplicates: number; unknown: number }> {
    const client = await this.pool.connect();
    let stored = 0;
    let duplicates = 0;
    let unknown = 0;
    try {
      await client.query('BEGIN');
      for (const event of events) {
        const id = event.messageId && isUuid(event.messageId) ? event.messageId : null;
        const target = await client.query(
          `SELECT id FROM messages WHERE ($1::uuid IS NOT NULL AND id = $1::uuid)
             OR ($1::uuid IS NULL AND $2::text IS NOT NULL AND provider_message_id = $2::text) LIMIT 1`,
          [id, event.providerMessageId ?? null],
        );
        const messageId: string | undefined = target.rows[0]?.id;
        if (!messageId) {
          unknown++;
          continue;
        }
        const inserted = await client.query(
          `INSERT INTO message_events (message_id, type, at, provider, provider_event_id, detail)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider_event_id) DO NOTHING RETURNING id`,
          [
            messageId,
            event.type,
            event.at,
            provider,
            event.eventId,
            JSON.stringify({ email: event.email, ...event.detail }),
          ],
        );
        if (inserted.rowCount === 0) {
          duplicates++;
          continue;
        }
        stored++;
        if (event.messageIdHeader) {
          await client.query(
            `UPDATE messages SET message_id_header = $2, updated_at = now()
             WHERE id = $1 AND message_id_header IS DISTINCT FROM $2`,
            [messageId, event.messageIdHeader],
          );
        }
        if (STATUS_EVENTS.has(event.type)) {
          await client.query(
            `UPDATE messages SET status = $2::message_status, updated_at = now()
             WHERE id = $1 AND message_status_rank($2::message_status) > message_status_rank(status)`,
            [messageId, event.type],
          );
        }
        if (event.suppress) {
          await client.query(
            `INSERT INTO suppressions (email, reason, source, message_id) VALUES (lower($1), $2, $3, $4)
             ON CONFLICT (email) DO NOTHING`,
            [event.email, event.type, provider, messageId],
          );
        }
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return { stored, duplicates, unknown };
  }

  async countsSince(since: Date): Promise<Record<string, number>> {
    const { rows } = await this.pool.query(
      'SELECT status, count(*)::int AS n FROM messages WHERE created_at >= $1 GROUP BY status',
      [since],
    );
    return Object.fromEntries(rows.map((r: { status: string; n: number }) => [r.status, r.n]));
  }

  async recentSwaps(
    limit: number,
  ): Promise<{ provider: string; state: string; reason: string; actor: string; at: Date }[]> {
    const { rows } = await this.pool.query(
      'SELECT provider, state, reason, actor, at FROM provider_swaps ORDER BY at DESC, id DESC LIMIT $1',
      [limit],
    );
    return rows;
  }

  async recordSwap(swap: {
    provider: string;
    state: string;
    reason: string;
    actor: string;
    at: Date;
  }): Promise<void> {
    await this.pool.query(
      'INSERT INTO provider_swaps (provider, state, reason, actor, at) VALUES ($1, $2, $3, $4, $5)',
      [swap.provider, swap.state, swap.reason, swap.actor, swap.at],
    );
  }

  async getSuppression(
    email: string,
  ): Promise<
    { email: string; reason: string; source: string; message_id: string | null; created_at: Date } | undefined
  > {
    const { rows } = await this.pool.query('SELECT * FROM suppressions WHERE email = lower($1)', [email]);
    return rows[0];
  }

  async addSuppression(email: string, reason: string, source: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO suppressions (email, reason, source) VALUES (lower($1), $2, $3) ON CONFLICT (email) DO NOTHING',
      [email, reason, source],
    );
  }

  async deleteSuppression(email: string): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM suppressions WHERE email = lower($1)', [email]);
    return (result.rowCount ?? 0) > 0;
  }
}
