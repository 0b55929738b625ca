import { createHash } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { renderTemplate, TEMPLATES, type TemplateName } from '../../emails/index.ts';
import type { StoredAddress } from '../db/schema.ts';
import { AppError, zodFields } from '../errors.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
import { SummarizedLog } from '../logging/summarized-log.ts';
import { MicroBatcher } from '../shared/micro-batcher.ts';
import {
  type EventRow,
  isUuid,
  type MessageRepository,
  type MessageRow,
  type MessageStatus,
  type Priority,
  type ProviderEvent,
  type QueueRef,
} from './message.repository.ts';
import type { MessageFilter, RedriveInput, SendMessageInput } from './message.schemas.ts';
import {
  type AttachmentInput,
  checkAttachments,
  checkHeaders,
  decodeBase64,
  newMessageIdHeader,
  toFieldProblems,
  totalSize,
} from './message-content.ts';

/** BullMQ: a lower number runs first. */
const PRIORITY: Record<Priority, number> = { high: 1, normal: 5, low: 10 };

export const SEND_JOB = 'send';

/** Deterministic: the same message and round can be enqueued any number of times, it runs once. */
export function sendJobId(ref: { id: string; round: number }): string {
  return `msg-${ref.id}-${ref.round}`;
}

export interface DeliveryOptions {
  defaultFrom: StoredAddress;
  maxAttempts: number;
  backoffMs: number;
  /** An enqueue that Redis has not confirmed by then is left to the outbox sweeper (default 2 s). */
  enqueueTimeoutMs?: number;
  /** Right-hand side of generated Message-IDs. */
  messageIdDomain: string;
  /** Largest decoded total of a message's attachments (413 beyond). */
  attachmentsMaxBytes: number;
}

export interface Actor {
  id: string;
}

/**
 * Whose messages a caller may see: an API key id limits reads (and cancels) to the messages that
 * key sent; undefined means every message (`read:all`, Slack admins, internal callers).
 */
export type MessageOwner = string | undefined;

/** An email from inside Briefly (briefings, sequences, appointments) rather than an API caller. */
export interface InternalEmail {
  /** Reserved by the caller to make the send idempotent (the same id is stored once). */
  id?: string;
  kind: string;
  to: StoredAddress[];
  subject: string;
  html?: string;
  text?: string;
  priority?: Priority;
  sendAt?: Date;
  tags?: string[];
  metadata?: Record<string, unknown>;
  from?: StoredAddress;
  replyTo?: StoredAddress;
  /** Same allow-list as the API: List-Unsubscribe(-Post), In-Reply-To, References, X-…. */
  headers?: Record<string, string>;
  /** Stored with the message (never in job payloads); same size limit as the API. */
  attachments?: AttachmentInput[];
}

/** What a test send (Slack button, `briefly send`) asks for. */
export interface TestEmail {
  to: string;
  subject?: string;
  /** Who asked ("slack:U123", "cli"): written into the body and the audit log. */
  requestedBy: string;
}

export const TEST_SUBJECT = 'Briefly test email';

const iso = (value: Date | null) => (value ? value.toISOString() : null);

export function toApiMessage(row: MessageRow) {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    priority: row.priority,
    from: row.from_address,
    to: row.to,
    cc: row.cc,
    bcc: row.bcc,
    reply_to: row.reply_to,
    subject: row.subject,
    template: row.template,
    tags: row.tags,
    metadata: row.metadata,
    send_at: row.send_at.toISOString(),
    attempts: row.attempts,
    provider: row.provider,
    provider_message_id: row.provider_message_id,
    last_error: row.last_error,
    sent_at: iso(row.sent_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    headers: row.headers ?? {},
    message_id_header: row.message_id_header,
  };
}

const toApiEvent = (event: EventRow) => ({
  type: event.type,
  at: event.at.toISOString(),
  provider: event.provider,
  detail: event.detail,
});

function encodeCursor(row: MessageRow): string {
  return Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !isUuid(id) || Number.isNaN(createdAt.getTime())) {
    throw AppError.validation([{ field: 'query.cursor', message: 'is not a cursor this API returned' }]);
  }
  return { createdAt, id };
}

/**
 * The delivery layer's use cases: accept (outbox row first, then the job), inspect, cancel,
 * redrive, suppress, and ingest provider events. Sending itself is in deliver-message.worker.ts.
 */
export class DeliveryService {
  constructor(
    private readonly repo: MessageRepository,
    private readonly queues: Queues,
    private readonly options: DeliveryOptions,
    logger: Logger,
  ) {
    this.outage = new SummarizedLog(logger);
  }

  /** During a Redis outage every accept would warn; one line per minute says it all. */
  private readonly outage: SummarizedLog;

  jobOptions(ref: QueueRef, now = Date.now()): JobsOptions {
    return {
      jobId: sendJobId(ref),
      priority: PRIORITY[ref.priority],
      delay: Math.max(0, ref.send_at.getTime() - now),
      attempts: this.options.maxAttempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs, jitter: 0.5 },
      // A finished send job is not kept: the message row and its trail are the record, and a job id
      // enqueued again later finds the message no longer sendable. Keeping completed jobs for a day
      // cost 5 of ~47 Redis commands per message and up to 10,000 keys.
      removeOnComplete: true,
    };
  }

  /**
   * Concurrent accepts share one addBulk round trip; at most two run at once, so under load the
   * accepts made meanwhile wait a moment and go together (each addBulk builds an ioredis pipeline,
   * which copies every script BullMQ defines: 2% of the web process when batches were tiny).
   */
  private readonly enqueues = new MicroBatcher<QueueRef[], undefined>(
    async (batches) => {
      const now = Date.now();
      await this.queues.get('email-delivery').addBulk(
        batches.flat().map((ref) => ({
          name: SEND_JOB,
          data: { messageId: ref.id },
          opts: this.jobOptions(ref, now),
        })),
      );
      return batches.map(() => undefined);
    },
    100,
    2,
  );

  /**
   * Enqueues send jobs. Never throws and never waits long on Redis: the rows are already stored
   * as `queued`, so with Redis disconnected, failing or slow the jobs are left to the outbox
   * sweeper, which runs at once when Redis is back (OutboxWatch) and every minute. A late add
   * that Redis completes after the timeout is harmless: job ids are deterministic.
   */
  async enqueue(refs: QueueRef[]): Promise<void> {
    if (refs.length === 0) return;
    if (!this.queues.ready()) {
      this.outage.warn(
        'Redis is not connected; accepted messages wait in PostgreSQL for the sweeper',
        'redis',
        {
          count: refs.length,
        },
      );
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.options.enqueueTimeoutMs ?? 2_000;
    try {
      await Promise.race([
        this.enqueues.add(refs),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Redis did not confirm within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      this.outage.warn('could not enqueue messages; the outbox sweeper will', 'enqueue', {
        count: refs.length,
        error: (error as Error).message,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async accept(
    input: SendMessageInput,
    caller: { apiKeyId?: string; idempotencyKey?: string; kind?: string },
  ): Promise<{ id: string; status: MessageStatus; replayed: boolean }> {
    let html = input.html;
    let text = input.text;
    if (input.template) {
      const entry = TEMPLATES[input.template as TemplateName];
      const parsed = entry.schema.safeParse(input.data ?? {});
      if (!parsed.success) {
        throw AppError.validation(
          zodFields(parsed.error.issues).map((f) => ({ field: `data.${f.field}`, message: f.message })),
        );
      }
      ({ html, text } = await renderTemplate(input.template as TemplateName, parsed.data));
    }
    const headers = this.checkedHeaders(input.headers);
    const attachments = this.checkedAttachments(
      input.attachments?.map((a, index) => {
        const content = decodeBase64(a.content);
        if (!content) {
          throw AppError.validation([{ field: `attachments.${index}.content`, message: 'must be base64' }]);
        }
        return {
          filename: a.filename,
          contentType: a.content_type,
          content,
          disposition: a.disposition,
          contentId: a.content_id,
        };
      }),
    );
    const requestHash = caller.idempotencyKey
      ? createHash('sha256').update(JSON.stringify(input)).digest('hex')
      : undefined;
    const result = await this.repo.insert({
      kind: caller.kind ?? 'api',
      priority: input.priority,
      from: input.from ?? this.options.defaultFrom,
      to: input.to,
      cc: input.cc ?? [],
      bcc: input.bcc ?? [],
      replyTo: input.reply_to,
      subject: input.subject,
      html,
      text,
      template: input.template,
      templateData: input.data,
      tags: input.tags,
      metadata: input.metadata,
      sendAt: input.send_at ? new Date(input.send_at) : undefined,
      apiKeyId: caller.apiKeyId,
      idempotencyKey: caller.idempotencyKey,
      requestHash,
      headers,
      attachments,
      messageIdHeader: newMessageIdHeader(this.options.messageIdDomain),
    });
    if (!result.created) {
      if (result.requestHash !== requestHash) {
        throw new AppError(
          'conflict',
          'Idempotency-Key was already used with a different request body; use a new key for a new message',
          { fields: [{ field: 'Idempotency-Key', message: 'already used with a different body' }] },
        );
      }
      return { id: result.row.id, status: result.row.status, replayed: true };
    }
    await this.enqueue([result.row]);
    return { id: result.row.id, status: result.row.status, replayed: false };
  }

  private checkedHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
    if (!headers) return undefined;
    const checked = checkHeaders(headers);
    if (checked.problems.length) throw AppError.validation(toFieldProblems(checked.problems));
    return checked.headers;
  }

  private checkedAttachments(attachments: AttachmentInput[] | undefined): AttachmentInput[] | undefined {
    if (!attachments?.length) return undefined;
    const problems = checkAttachments(attachments);
    if (problems.length) throw AppError.validation(toFieldProblems(problems));
    const total = totalSize(attachments);
    if (total > this.options.attachmentsMaxBytes) {
      throw new AppError(
        'payload_too_large',
        `Attachments total ${total} bytes, more than the ${this.options.attachmentsMaxBytes} allowed (MESSAGE_ATTACHMENTS_MAX_BYTES)`,
        {
          fields: [
            { field: 'attachments', message: `must total at most ${this.options.attachmentsMaxBytes} bytes` },
          ],
        },
      );
    }
    return attachments;
  }

  /**
   * For Briefly's own mail (briefings, sequences, appointments, stats): same outbox, same trail,
   * same providers, same header and attachment rules as the API. Returns the Message-ID the
   * recipient will see (a reply quotes it in In-Reply-To).
   */
  async sendInternal(email: InternalEmail): Promise<{ id: string; messageIdHeader: string | null }> {
    const headers = this.checkedHeaders(email.headers);
    const attachments = this.checkedAttachments(email.attachments);
    const result = await this.repo.insert({
      id: email.id,
      kind: email.kind,
      priority: email.priority ?? 'normal',
      from: email.from ?? this.options.defaultFrom,
      to: email.to,
      cc: [],
      bcc: [],
      replyTo: email.replyTo,
      subject: email.subject,
      html: email.html,
      text: email.text,
      tags: email.tags ?? [],
      metadata: email.metadata ?? {},
      sendAt: email.sendAt,
      headers,
      attachments,
      messageIdHeader: newMessageIdHeader(this.options.messageIdDomain),
    });
    await this.enqueue([result.row]);
    return { id: result.row.id, messageIdHeader: result.row.message_id_header };
  }

  /** A test email from an operator (Slack "Send test email", `briefly send`): high priority, kind `test`. */
  async sendTest(test: TestEmail, now = new Date()): Promise<{ id: string; messageIdHeader: string | null }> {
    const to = test.to.trim();
    if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(to) || to.length > 254) {
      throw AppError.validation([
        { field: 'to', message: 'must be an email address such as ana@example.com' },
      ]);
    }
    const subject = (test.subject?.trim() || TEST_SUBJECT).replace(/[\r\n\0]+/g, ' ').slice(0, 200);
    const { html, text } = await renderTemplate('notification', {
      heading: subject,
      paragraphs: [
        `This is a test email from Briefly, requested by ${test.requestedBy} at ${now.toISOString()}.`,
        'If it reached you, the delivery path works: provider, sender address and, with webhooks on, delivery events.',
      ],
    });
    const sent = await this.sendInternal({
      kind: 'test',
      to: [{ email: to }],
      subject,
      html,
      text,
      priority: 'high',
      tags: ['test'],
      metadata: { requested_by: test.requestedBy },
    });
    // Who asked is on the message itself (metadata.requested_by), stored with it in one statement.
    return sent;
  }

  async get(id: string, owner?: MessageOwner) {
    const row = await this.repo.get(id, owner);
    if (!row) throw AppError.notFound('Message', id);
    const [events, attachments] = await Promise.all([this.repo.events(id), this.repo.attachments(id)]);
    return { ...toApiMessage(row), attachments, events: events.map(toApiEvent) };
  }

  /** The message a reply refers to, by the Message-ID in its In-Reply-To or References. */
  async findByMessageIdHeader(value: string) {
    const row = await this.repo.findByMessageIdHeader(value);
    return row ? toApiMessage(row) : undefined;
  }

  async list(filter: MessageFilter, limit: number, cursor?: string, owner?: MessageOwner) {
    const rows = await this.repo.list(filter, limit + 1, cursor ? decodeCursor(cursor) : undefined, owner);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      messages: page.map(toApiMessage),
      next_cursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  async cancel(id: string, actor: Actor, owner?: MessageOwner) {
    const { cancelled, row } = await this.repo.cancel(
      id,
      actor.id,
      { actor: actor.id, action: 'message.cancel', subject: id },
      owner,
    );
    if (!row) throw AppError.notFound('Message', id);
    if (!cancelled) {
      throw new AppError(
        'conflict',
        `Message ${id} is ${row.status}; only queued or deferred messages can be cancelled`,
      );
    }
    await this.queues
      .get('email-delivery')
      .remove(sendJobId(row))
      .catch(() => 0);
    return toApiMessage(row);
  }

  async redrive(input: RedriveInput, actor: Actor): Promise<{ requeued: number; ids: string[] }> {
    const refs = await this.repo.redrive(input, input.limit, actor.id, (requeued) => ({
      actor: actor.id,
      action: 'message.redrive',
      details: { filter: { ...input, ids: input.ids?.length }, requeued },
    }));
    await this.enqueue(refs);
    return { requeued: refs.length, ids: refs.map((r) => r.id) };
  }

  async ingestProviderEvents(provider: string, events: ProviderEvent[]) {
    return this.repo.applyProviderEvents(provider, events);
  }

  async getSuppression(email: string) {
    const row = await this.repo.getSuppression(email);
    if (!row) throw AppError.notFound('Suppression for', email);
    return {
      email: row.email,
      reason: row.reason,
      source: row.source,
      message_id: row.message_id,
      created_at: row.created_at.toISOString(),
    };
  }

  async deleteSuppression(email: string, actor: Actor): Promise<void> {
    const audit = { actor: actor.id, action: 'suppression.delete', subject: email.toLowerCase() };
    if (!(await this.repo.deleteSuppression(email, audit))) throw AppError.notFound('Suppression for', email);
  }

  async addSuppression(email: string, reason: string, actor: Actor): Promise<void> {
    await this.repo.addSuppression(email, reason, actor.id, {
      actor: actor.id,
      action: 'suppression.add',
      subject: email.toLowerCase(),
      details: { reason },
    });
  }
}
