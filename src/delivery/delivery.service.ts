import { createHash } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { renderTemplate, TEMPLATES, type TemplateName } from '../../emails/index.ts';
import type { StoredAddress } from '../db/schema.ts';
import { AppError, zodFields } from '../errors.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
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
}

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
    private readonly logger: Logger,
  ) {}

  jobOptions(ref: QueueRef, now = Date.now()): JobsOptions {
    return {
      jobId: sendJobId(ref),
      priority: PRIORITY[ref.priority],
      delay: Math.max(0, ref.send_at.getTime() - now),
      attempts: this.options.maxAttempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs, jitter: 0.5 },
    };
  }

  /** Concurrent accepts share one addBulk round trip. */
  private readonly enqueues = new MicroBatcher<QueueRef[], undefined>(async (batches) => {
    const now = Date.now();
    await this.queues.get('email-delivery').addBulk(
      batches.flat().map((ref) => ({
        name: SEND_JOB,
        data: { messageId: ref.id },
        opts: this.jobOptions(ref, now),
      })),
    );
    return batches.map(() => undefined);
  }, 100);

  /**
   * Enqueues send jobs. A Redis failure is logged, not thrown: the rows are already stored as
   * `queued`, and the outbox sweeper enqueues them once Redis is back.
   */
  async enqueue(refs: QueueRef[]): Promise<void> {
    if (refs.length === 0) return;
    try {
      await this.enqueues.add(refs);
    } catch (error) {
      this.logger.warn('could not enqueue messages; the outbox sweeper will', {
        count: refs.length,
        error: (error as Error).message,
      });
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

  /** For Briefly's own mail (briefings, sequences, ...): same outbox, same trail, same providers. */
  async sendInternal(email: InternalEmail): Promise<{ id: string }> {
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
    });
    await this.enqueue([result.row]);
    return { id: result.row.id };
  }

  async get(id: string, owner?: MessageOwner) {
    const row = await this.repo.get(id, owner);
    if (!row) throw AppError.notFound('Message', id);
    const events = await this.repo.events(id);
    return { ...toApiMessage(row), events: events.map(toApiEvent) };
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
