import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { type AuditEntry, recordAudit } from '../audit/audit.repository.ts';
import { inTransaction } from '../db/client.ts';
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
  claim_token: string | null;
  lease_until: Date | null;
  unknown_outcome_provider: string | null;
  unknown_outcome_at: Date | null;
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

/** The columns a send needs: what a claim reads back (not the template data, metadata or bookkeeping). */
const CLAIM_COLUMNS = [
  'id',
  'from_address',
  'to',
  'cc',
  'bcc',
  'reply_to',
  'subject',
  'html',
  'text',
  'tags',
  'headers',
  'message_id_header',
  'attempts',
  'claim_token',
  'lease_until',
  'unknown_outcome_provider',
  'unknown_outcome_at',
] as const satisfies readonly (keyof MessageRow)[];
const CLAIM_RETURNING = CLAIM_COLUMNS.map((column) => `messages."${column}"`).join(', ');

/**
 * A message a worker attempt owns: only this claim's token may record its outcome. It carries its
 * suppressed recipients and how many attachments it has and their size (their contents are read apart).
 */
export type Claim = Pick<MessageRow, (typeof CLAIM_COLUMNS)[number]> & {
  suppressed: string[];
  attachment_count: number;
  /** Decoded bytes of its attachments (0 without any): what the worker budgets before reading them. */
  attachment_bytes: number;
  claim_token: string;
  lease_until: Date;
  /**
   * performance.now() value up to which this claim's lease is known to be live with at least
   * three quarters of it left, without asking PostgreSQL: the claim was sent at `t` and its lease
   * runs `leaseMs` from when PostgreSQL ran it (after `t`), so at `t + leaseMs / 4` it still has
   * more than `0.75 * leaseMs` left. Before then a renewal would only confirm what is known.
   */
  fresh_until: number;
};

/**
 * Hot-path statements of one kind running at once per process (see MicroBatcher): beyond this,
 * concurrent calls wait a moment and share the next statement, so a burst becomes a few large
 * commits instead of many small ones queueing for the same pool connections.
 */
const BATCHES_IN_FLIGHT = 4;

/** Share of a lease during which a fresh claim skips the renewal before the provider call. */
const FRESH_SHARE = 0.25;

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
  /**
   * @param idempotencyKeyTtlMs how long an Idempotency-Key names its message; after that the same
   *   key is new even before the retention purge has cleared it (RETENTION_IDEMPOTENCY_KEYS_DAYS).
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly idempotencyKeyTtlMs = 86_400_000,
  ) {}

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
    BATCHES_IN_FLIGHT,
  );

  private async insertMany(batch: NewMessage[]): Promise<InsertResult[]> {
    const ids = batch.map((m) => m.id ?? randomUUID());
    // One array per column (unnest): the statement's text is the same for any batch size, and
    // PostgreSQL parses 21 parameters instead of 21 per row.
    const params: unknown[] = [
      ids,
      batch.map((m) => m.kind),
      batch.map((m) => m.priority),
      batch.map((m) => JSON.stringify(m.from)),
      batch.map((m) => JSON.stringify(m.to)),
      batch.map((m) => JSON.stringify(m.cc)),
      batch.map((m) => JSON.stringify(m.bcc)),
      batch.map((m) => (m.replyTo ? JSON.stringify(m.replyTo) : null)),
      batch.map((m) => m.subject),
      batch.map((m) => m.html ?? null),
      batch.map((m) => m.text ?? null),
      batch.map((m) => m.template ?? null),
      batch.map((m) => (m.templateData ? JSON.stringify(m.templateData) : null)),
      // text[] per row: an array of arrays cannot be unnested row by row, so each travels as JSON.
      batch.map((m) => JSON.stringify(m.tags)),
      batch.map((m) => JSON.stringify(m.metadata)),
      batch.map((m) => m.sendAt ?? null),
      batch.map((m) => m.apiKeyId ?? null),
      batch.map((m) => m.idempotencyKey ?? null),
      batch.map((m) => m.requestHash ?? null),
      batch.map((m) => JSON.stringify(m.headers ?? {})),
      batch.map((m) => m.messageIdHeader ?? null),
    ];
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
    const { rows } = await this.pool.query({
      // Named (prepared once per connection): the hot statements skip parsing and planning setup.
      name: attachments.length > 0 ? 'messages-insert-with-attachments' : 'messages-insert',
      text: `WITH m AS (
         INSERT INTO messages (id, kind, priority, from_address, "to", cc, bcc, reply_to, subject, html, text,
           template, template_data, tags, metadata, send_at, api_key_id, idempotency_key, request_hash,
           headers, message_id_header)
         SELECT v.id, v.kind, v.priority::message_priority, v.from_address, v."to", v.cc, v.bcc, v.reply_to,
           v.subject, v.html, v.text, v.template, v.template_data,
           ARRAY(SELECT jsonb_array_elements_text(v.tags)), v.metadata, coalesce(v.send_at, now()),
           v.api_key_id, v.idempotency_key, v.request_hash, v.headers, v.message_id_header
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
           $8::jsonb[], $9::text[], $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::jsonb[],
           $15::jsonb[], $16::timestamptz[], $17::uuid[], $18::text[], $19::text[], $20::jsonb[], $21::text[])
           AS v(id, kind, priority, from_address, "to", cc, bcc, reply_to, subject, html, text,
             template, template_data, tags, metadata, send_at, api_key_id, idempotency_key, request_hash,
             headers, message_id_header)
         ON CONFLICT DO NOTHING
         RETURNING id, round, priority, send_at, status, message_id_header
       ), e AS (
         INSERT INTO message_events (message_id, type) SELECT id, 'accepted' FROM m UNION ALL SELECT id, 'queued' FROM m
       )${attachmentsCte}
       SELECT * FROM m`,
      values: params,
    });
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
              `SELECT id, round, priority, send_at, status, message_id_header, request_hash,
                 created_at <= now() - make_interval(secs => $3::double precision / 1000) AS key_expired
               FROM messages WHERE api_key_id = $1 AND idempotency_key = $2`,
              [m.apiKeyId, m.idempotencyKey, this.idempotencyKeyTtlMs],
            );
        const { key_expired: keyExpired, ...found } = existing.rows[0] ?? {};
        if (!found.id) throw new Error('idempotent insert found neither a new nor an existing row');
        if (keyExpired) {
          // The key outlived its retention before the purge reached it: release it and insert anew.
          await this.pool.query(
            'UPDATE messages SET idempotency_key = NULL, request_hash = NULL WHERE id = $1 AND idempotency_key = $2',
            [found.id, m.idempotencyKey],
          );
          const [again] = await this.insertMany([m]);
          if (!again) throw new Error('idempotent insert returned nothing');
          return again;
        }
        return { row: found, created: false, requestHash: found.request_hash };
      }),
    );
  }

  /** `owner` (an API key id) limits the lookup to that key's messages. */
  async get(id: string, owner?: string): Promise<MessageRow | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.pool.query(
      'SELECT * FROM messages WHERE id = $1 AND ($2::uuid IS NULL OR api_key_id = $2::uuid)',
      [id, owner ?? null],
    );
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
    owner?: string,
  ): Promise<MessageRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (owner) add('api_key_id = ?::uuid', owner);
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
   * Moves a due message to `sending` under a new owner token with a lease of `leaseMs`. A message
   * already `sending` is taken over only once its lease has expired (its worker died or froze).
   * Returns the claim, or `busyUntil` when another owner's lease is still running, or nothing when
   * the message is gone or no longer sendable (sent, cancelled, ...). Concurrent claims from one
   * worker process share a statement.
   */
  async claim(id: string, leaseMs: number): Promise<{ claim?: Claim; busyUntil?: Date }> {
    // Taken before the statement is even queued: the lease starts later than this, never earlier.
    const freshUntil = performance.now() + leaseMs * FRESH_SHARE;
    const result = await this.claims.add({ id, leaseMs, token: randomUUID() });
    if (result.claim) result.claim.fresh_until = freshUntil;
    return result;
  }

  private readonly claims = new MicroBatcher<
    { id: string; leaseMs: number; token: string },
    { claim?: Claim; busyUntil?: Date }
  >(
    async (batch) => {
      const { rows } = await this.pool.query({
        name: 'messages-claim',
        text: `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::float8[]) AS v(id, token, lease_ms)
       ), m AS (
         UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = now(),
           claim_token = v.token, lease_until = clock_timestamp() + make_interval(secs => v.lease_ms / 1000)
         FROM v
         WHERE messages.id = v.id AND (messages.status IN ('queued', 'deferred')
           OR (messages.status = 'sending' AND (messages.lease_until IS NULL OR messages.lease_until < clock_timestamp())))
         RETURNING ${CLAIM_RETURNING}
       ), e AS (
         INSERT INTO message_events (message_id, type, detail)
         SELECT id, 'sending', jsonb_build_object('attempt', attempts) FROM m
       )
       SELECT m.*, coalesce((
         SELECT array_agg(s.email) FROM suppressions s
         WHERE s.email IN (SELECT lower(a->>'email') FROM jsonb_array_elements(m."to" || m.cc || m.bcc) a)
       ), '{}') AS suppressed,
       -- Counted and sized in the same statement (one index probe); contents are read apart, one
       -- message at a time, so a batch of claims never carries megabytes of attachments.
       att.attachment_count, att.attachment_bytes
       FROM m CROSS JOIN LATERAL (
         SELECT count(*)::int AS attachment_count, coalesce(sum(a.size), 0)::int AS attachment_bytes
         FROM message_attachments a WHERE a.message_id = m.id
       ) att`,
        values: [batch.map((b) => b.id), batch.map((b) => b.token), batch.map((b) => b.leaseMs)],
      });
      const byToken = new Map(rows.map((row) => [row.claim_token as string, row as Claim]));
      const missed = batch.filter((b) => !byToken.has(b.token)).map((b) => b.id);
      const busy = new Map<string, Date>();
      if (missed.length > 0) {
        const held = await this.pool.query(
          `SELECT id, lease_until FROM messages
         WHERE id = ANY($1::uuid[]) AND status = 'sending' AND lease_until >= clock_timestamp()`,
          [missed],
        );
        for (const row of held.rows) busy.set(row.id, row.lease_until);
      }
      return batch.map((b) => {
        const claim = byToken.get(b.token);
        return claim ? { claim } : { busyUntil: busy.get(b.id) };
      });
    },
    100,
    BATCHES_IN_FLIGHT,
  );

  /**
   * Right before a provider call: true, and the lease extended by `leaseMs`, only while the claim
   * is still this owner's and its lease has not run out. False means another worker may own the
   * message now (or soon): the caller must not call the provider.
   */
  async renewLease(id: string, token: string, leaseMs: number): Promise<boolean> {
    return this.renewals.add({ id, token, leaseMs });
  }

  /**
   * Concurrent renewals share a statement (the same rule, row by row); most sends skip renewal
   * altogether (see Claim.fresh_until).
   */
  private readonly renewals = new MicroBatcher<{ id: string; token: string; leaseMs: number }, boolean>(
    async (batch) => {
      const { rows } = await this.pool.query({
        name: 'messages-renew-lease',
        text: `UPDATE messages SET lease_until = clock_timestamp() + make_interval(secs => v.lease_ms / 1000)
         FROM unnest($1::uuid[], $2::uuid[], $3::float8[]) AS v(id, token, lease_ms)
         WHERE messages.id = v.id AND messages.claim_token = v.token AND messages.status = 'sending'
           AND messages.lease_until > clock_timestamp()
         RETURNING messages.id, messages.claim_token`,
        values: [batch.map((b) => b.id), batch.map((b) => b.token), batch.map((b) => b.leaseMs)],
      });
      const renewed = new Set(rows.map((r) => r.claim_token as string));
      return batch.map((b) => renewed.has(b.token));
    },
    100,
    BATCHES_IN_FLIGHT,
  );

  /**
   * Records the provider's acceptance, only for the current owner: a worker whose claim was taken
   * over gets false and records nothing (see recordStaleSend). Batched like claim().
   */
  markSent(
    id: string,
    token: string,
    provider: string,
    providerMessageId: string | undefined,
    detail: Record<string, unknown>,
  ): Promise<boolean> {
    return this.sents.add({ id, token, provider, providerMessageId, detail });
  }

  private readonly sents = new MicroBatcher<
    {
      id: string;
      token: string;
      provider: string;
      providerMessageId: string | undefined;
      detail: Record<string, unknown>;
    },
    boolean
  >(
    async (batch) => {
      const { rows } = await this.pool.query({
        name: 'messages-sent',
        text: `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::uuid[])
           AS v(id, provider, provider_message_id, detail, token)
       ), m AS (
         UPDATE messages SET provider = v.provider, provider_message_id = v.provider_message_id, sent_at = now(),
           last_error = NULL, updated_at = now(), lease_until = NULL,
           unknown_outcome_provider = NULL, unknown_outcome_at = NULL,
           status = CASE WHEN message_status_rank(messages.status) < message_status_rank('sent') THEN 'sent' ELSE messages.status END
         FROM v WHERE messages.id = v.id AND messages.claim_token = v.token
         RETURNING messages.id, v.provider, v.detail
       ), e AS (
         INSERT INTO message_events (message_id, type, provider, detail) SELECT id, 'sent', provider, detail FROM m
       )
       SELECT id FROM m`,
        values: [
          batch.map((b) => b.id),
          batch.map((b) => b.provider),
          batch.map((b) => b.providerMessageId ?? null),
          batch.map((b) => JSON.stringify(b.detail)),
          batch.map((b) => b.token),
        ],
      });
      const recorded = new Set(rows.map((r) => r.id as string));
      return batch.map((b) => recorded.has(b.id));
    },
    100,
    BATCHES_IN_FLIGHT,
  );

  /** The trail of a provider acceptance that came too late to count: the message may have gone out twice. */
  async recordStaleSend(id: string, provider: string, detail: Record<string, unknown>): Promise<void> {
    await this.pool.query(
      `INSERT INTO message_events (message_id, type, provider, detail) VALUES ($1, 'stale_send', $2, $3)`,
      [id, provider, JSON.stringify(detail)],
    );
  }

  /** Records a state the worker reached (deferred, failed, suppressed) with its trail event; false if no longer the owner. */
  async markStatus(
    id: string,
    token: string,
    status: 'deferred' | 'failed' | 'suppressed',
    error: string | null,
    detail: Record<string, unknown>,
  ): Promise<boolean> {
    const { rows } = await this.pool.query(
      `WITH m AS (
         UPDATE messages SET status = $2, last_error = $3, updated_at = now(), lease_until = NULL
         WHERE id = $1 AND status = 'sending' AND claim_token = $6 RETURNING id
       ), e AS (
         INSERT INTO message_events (message_id, type, provider, detail) SELECT id, $2, $4, $5 FROM m
       )
       SELECT id FROM m`,
      [id, status, error, (detail.provider as string | undefined) ?? null, JSON.stringify(detail), token],
    );
    return rows.length > 0;
  }

  /**
   * A provider call ended without an answer after the request went out: the message is
   * `deferred`, and remembers which provider may have it and since when (the first such call).
   */
  async markUnknownOutcome(
    id: string,
    token: string,
    provider: string,
    error: string,
    detail: Record<string, unknown>,
  ): Promise<Date | undefined> {
    const { rows } = await this.pool.query(
      `WITH m AS (
         UPDATE messages SET status = 'deferred', last_error = $4, updated_at = now(), lease_until = NULL,
           unknown_outcome_at = CASE WHEN unknown_outcome_provider = $3 THEN unknown_outcome_at ELSE now() END,
           unknown_outcome_provider = $3
         WHERE id = $1 AND status = 'sending' AND claim_token = $2 RETURNING id, unknown_outcome_at
       ), e AS (
         INSERT INTO message_events (message_id, type, provider, detail) SELECT id, 'unknown_outcome', $3, $5 FROM m
       )
       SELECT unknown_outcome_at FROM m`,
      [id, token, provider, error, JSON.stringify(detail)],
    );
    return rows[0]?.unknown_outcome_at;
  }

  /**
   * Before retrying after an unknown outcome: if the provider's webhook has since reported this
   * message (any event: processed, delivered, bounce...), the provider has it, so it is `sent`
   * and must not be sent again. True when resolved so.
   */
  async resolveUnknownFromEvents(id: string, token: string, provider: string): Promise<boolean> {
    const { rows } = await this.pool.query(
      `WITH ev AS (
         SELECT type, at, detail FROM message_events
         WHERE message_id = $1 AND provider = $3 AND provider_event_id IS NOT NULL ORDER BY id LIMIT 1
       ), m AS (
         UPDATE messages SET status = 'sent', provider = $3,
           provider_message_id = coalesce((SELECT detail->>'provider_message_id' FROM ev), provider_message_id),
           sent_at = coalesce(sent_at, (SELECT at FROM ev)), last_error = NULL, updated_at = now(), lease_until = NULL,
           unknown_outcome_provider = NULL, unknown_outcome_at = NULL
         WHERE id = $1 AND claim_token = $2 AND status = 'sending' AND EXISTS (SELECT 1 FROM ev) RETURNING id
       ), e AS (
         INSERT INTO message_events (message_id, type, provider, detail)
         SELECT id, 'sent', $3, jsonb_build_object('resolved_by', 'webhook', 'event', (SELECT type FROM ev)) FROM m
       )
       SELECT id FROM m`,
      [id, token, provider],
    );
    return rows.length > 0;
  }

  /**
   * Cancels a message that has not started sending, with its audit row in the same transaction.
   * `owner` limits it to one API key's messages. Returns the status it has afterwards.
   */
  async cancel(
    id: string,
    actor: string,
    audit: AuditEntry,
    owner?: string,
  ): Promise<{ cancelled: boolean; row?: MessageRow }> {
    const rows = await inTransaction(this.pool, async (client) => {
      const result = await client.query(
        `WITH m AS (
           UPDATE messages SET status = 'cancelled', updated_at = now()
           WHERE id = $1 AND status IN ('queued', 'deferred') AND ($3::uuid IS NULL OR api_key_id = $3::uuid)
           RETURNING *
         ), e AS (
           INSERT INTO message_events (message_id, type, detail) SELECT id, 'cancelled', jsonb_build_object('by', $2::text) FROM m
         )
         SELECT * FROM m`,
        [id, actor, owner ?? null],
      );
      if (result.rows[0]) await recordAudit(client, audit);
      return result.rows;
    });
    if (rows[0]) return { cancelled: true, row: rows[0] };
    return { cancelled: false, row: await this.get(id, owner) };
  }

  /** Puts matching failed (or deferred) messages back in the queue with a new round. */
  async redrive(
    filter: { status: 'failed' | 'deferred'; tag?: string; since?: string; until?: string; ids?: string[] },
    limit: number,
    actor: string,
    audit: (requeued: number) => AuditEntry,
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
    return inTransaction(this.pool, async (client) => {
      const rows = await this.redriveIn(client, where, params);
      await recordAudit(client, audit(rows.length));
      return rows;
    });
  }

  private async redriveIn(client: pg.PoolClient, where: string[], params: unknown[]): Promise<QueueRef[]> {
    const { rows } = await client.query(
      `WITH picked AS (
         SELECT id FROM messages WHERE ${where.join(' AND ')} ORDER BY created_at LIMIT $${params.length - 1} FOR UPDATE SKIP LOCKED
       ), m AS (
         UPDATE messages SET status = 'queued', round = round + 1, attempts = 0, last_error = NULL,
           unknown_outcome_provider = NULL, unknown_outcome_at = NULL,
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
   * Messages whose job may be missing from Redis: queued or deferred and due (with `includeFuture`,
   * also those not yet due: after Redis lost its data their delayed jobs are gone too), or stuck
   * in `sending` longer than a worker can hold one (the worker died and Redis lost the job).
   * Ordered by (send_at, id); `after` continues from the last row of the previous page.
   */
  async dueForSweep(
    stuckAfterMs: number,
    limit: number,
    options: { includeFuture?: boolean; after?: { send_at: Date; id: string } } = {},
  ): Promise<QueueRef[]> {
    const { rows } = await this.pool.query(
      `SELECT id, round, priority, send_at FROM messages
       WHERE ((status IN ('queued', 'deferred') AND ($3::boolean OR send_at <= now()))
          OR (status = 'sending' AND updated_at < now() - make_interval(secs => $1::double precision / 1000)))
         AND ($4::timestamptz IS NULL OR (send_at, id) > ($4::timestamptz, $5::uuid))
       ORDER BY send_at, id LIMIT $2`,
      [
        stuckAfterMs,
        limit,
        options.includeFuture ?? false,
        options.after?.send_at ?? null,
        options.after?.id ?? null,
      ],
    );
    return rows;
  }

  /**
   * Deferred messages a swap may run at once through the next provider. Not those waiting on an
   * unknown outcome: they must wait for the provider that may have them (or its webhook).
   */
  async deferred(limit: number): Promise<QueueRef[]> {
    const { rows } = await this.pool.query(
      `SELECT id, round, priority, send_at FROM messages
       WHERE status = 'deferred' AND unknown_outcome_provider IS NULL ORDER BY send_at LIMIT $1`,
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
            JSON.stringify({
              email: event.email,
              ...(event.providerMessageId ? { provider_message_id: event.providerMessageId } : {}),
              ...event.detail,
            }),
          ],
        );
        if (inserted.rowCount === 0) {
          duplicates++;
          continue;
        }
        stored++;
        // Any event from the provider a call timed out on proves it has the message: it is sent,
        // and the worker must not send it again (nor through another provider).
        await client.query(
          `WITH m AS (
             UPDATE messages SET status = 'sent', provider = $2,
               provider_message_id = coalesce($3, provider_message_id), sent_at = coalesce(sent_at, $4),
               last_error = NULL, updated_at = now(), unknown_outcome_provider = NULL, unknown_outcome_at = NULL
             WHERE id = $1 AND unknown_outcome_provider = $2 AND status IN ('sending', 'deferred', 'failed')
             RETURNING id
           )
           INSERT INTO message_events (message_id, type, provider, detail)
           SELECT id, 'sent', $2, jsonb_build_object('resolved_by', 'webhook', 'event', $5::text) FROM m`,
          [messageId, provider, event.providerMessageId ?? null, event.at, event.type],
        );
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

  /** Adds a suppression and its audit row in one transaction. */
  async addSuppression(email: string, reason: string, source: string, audit: AuditEntry): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        'INSERT INTO suppressions (email, reason, source) VALUES (lower($1), $2, $3) ON CONFLICT (email) DO NOTHING',
        [email, reason, source],
      );
      await recordAudit(client, audit);
    });
  }

  /** Lifts a suppression and writes its audit row in one transaction; false when there was none. */
  async deleteSuppression(email: string, audit: AuditEntry): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const result = await client.query('DELETE FROM suppressions WHERE email = lower($1)', [email]);
      const deleted = (result.rowCount ?? 0) > 0;
      if (deleted) await recordAudit(client, audit);
      return deleted;
    });
  }
}
