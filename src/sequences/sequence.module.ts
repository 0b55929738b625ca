import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { AlertService } from '../alerts/alert.service.ts';
import type { Config } from '../config/config.ts';
import type { DeliveryService } from '../delivery/delivery.service.ts';
import type { ProviderEvent } from '../delivery/message.repository.ts';
import { AppError, isAppError, zodFields } from '../errors.ts';
import type { ApiRoute } from '../http/api-route.ts';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import { describeError, type Logger } from '../logging/logger.ts';
import type { Clock } from '../shared/time.ts';
import type { SlackPostService } from '../slack/posts/slack-post.service.ts';
import { MailboxCounters } from './mailbox-caps.ts';
import { planSends } from './sequence.planner.ts';
import { SequenceRepository } from './sequence.repository.ts';
import { sequenceRoutes } from './sequence.routes.ts';
import {
  type CreateSequence,
  createSequenceSchema,
  type UpdateSequence,
  updateSequenceSchema,
} from './sequence.schemas.ts';
import { type SenderDeps, sendStep } from './sequence.sender.ts';
import { SequenceService, type StopResult } from './sequence.service.ts';

export const SEQUENCE_PLAN_JOB = 'sequence-plan';
export const SEQUENCE_SEND_JOB = 'sequence-send';

export function sendJobIdFor(enrollmentId: string, at: Date): string {
  return `seq-${enrollmentId}-${at.getTime()}`;
}

export interface Sequences {
  repo: SequenceRepository;
  service: SequenceService;
  handlers: JobHandlers;
  routes: ApiRoute[];
  /** Plans now (the planner also runs every few minutes from src/jobs/schedules.ts). */
  planNow(): Promise<number>;
  sendNow(enrollmentId: string, plannedAt?: number): ReturnType<typeof sendStep>;
  /** Stops enrollments on bounces, spam reports and unsubscribes from the delivery webhooks. */
  onDeliveryEvents(events: ProviderEvent[]): Promise<void>;
  /** Stops enrollments on a reply (inbound mail quoting one of our Message-IDs); DMs the owner. */
  onReply(headers: string[], from: string, subject: string): Promise<StopResult[]>;
  unsubscribe(contactId: string, sequenceId: string): Promise<number>;
  /** Create (id null) or update from Slack's modal, validated by the API's schemas. */
  saveFromForm(input: unknown, id: string | null, actor: string): Promise<void>;
  /** Enrols contacts by email (Slack's paste box): unknown emails are listed back, not dropped. */
  enrollEmails(
    sequenceId: string,
    emails: string[],
    actor: string,
  ): Promise<{ enrolled: number; already: string[]; unknown: string[] }>;
}

const STOP_EVENTS: Partial<Record<string, 'bounced' | 'unsubscribed'>> = {
  bounced: 'bounced',
  dropped: 'bounced',
  spam_report: 'unsubscribed',
  unsubscribed: 'unsubscribed',
};

export function createSequences(deps: {
  config: Config;
  pool: pg.Pool;
  redis: Redis;
  queues: Queues;
  delivery: DeliveryService;
  alerts: AlertService;
  slackPosts: SlackPostService;
  clock: Clock;
  logger: Logger;
}): Sequences {
  const repo = new SequenceRepository(deps.pool);
  const service = new SequenceService(deps.pool, deps.clock);
  const counters = new MailboxCounters(deps.redis, deps.config.queuePrefix);
  const queue = () => deps.queues.get('sequences');

  const enqueueSends = async (sends: { enrollmentId: string; at: Date }[]) => {
    const now = deps.clock.now().getTime();
    for (let i = 0; i < sends.length; i += 1_000) {
      await queue().addBulk(
        sends.slice(i, i + 1_000).map((s) => ({
          name: SEQUENCE_SEND_JOB,
          data: { enrollmentId: s.enrollmentId, plannedAt: s.at.getTime() },
          opts: { jobId: sendJobIdFor(s.enrollmentId, s.at), delay: Math.max(0, s.at.getTime() - now) },
        })),
      );
    }
  };

  const senderDeps: SenderDeps = {
    pool: deps.pool,
    counters,
    send: (email) => deps.delivery.sendInternal(email),
    reschedule: (enrollmentId, at) => enqueueSends([{ enrollmentId, at }]),
    publicUrl: deps.config.http.publicUrl,
    unsubscribeSecret: deps.config.sequences.unsubscribeSecret,
  };

  const planNow = async () => {
    const planned = await planSends(deps.pool, deps.clock.now());
    await enqueueSends(planned.map((p) => ({ enrollmentId: p.enrollmentId, at: p.at })));
    // Planned sends whose job Redis lost (a restart without persistence): enqueued again, same job id.
    const { rows } = await deps.pool.query(
      `SELECT id, planned_at FROM sequence_contacts WHERE status = 'active' AND planned_at IS NOT NULL
         AND planned_at < $1 LIMIT 10000`,
      [new Date(deps.clock.now().getTime() - 120_000)],
    );
    await enqueueSends(rows.map((r) => ({ enrollmentId: r.id, at: r.planned_at })));
    return planned.length;
  };

  const afterStops = async (stopped: StopResult[], status: string) => {
    if (status !== 'bounced') return;
    const mailboxes = new Map(stopped.map((s) => [s.mailboxId, s.timeZone]));
    for (const [mailboxId, zone] of mailboxes) {
      const paused = await service.pauseOnBounceRate(mailboxId, zone);
      if (paused) {
        const text = `:warning: Mailbox ${paused.email} paused: ${paused.bounced} of ${paused.sent} sequence mails bounced today (over 5%). Check the list and resume it with PATCH /v1/mailboxes/${mailboxId} {"status":"active"}.`;
        await deps.alerts.post('sequence-mailbox-paused', {
          text,
          blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
        });
      }
    }
  };

  return {
    repo,
    service,
    planNow,
    sendNow: (enrollmentId, plannedAt) => sendStep(senderDeps, enrollmentId, deps.clock.now(), plannedAt),
    routes: sequenceRoutes({ repo, service, clock: deps.clock }),
    unsubscribe: (contactId, sequenceId) => service.unsubscribe(contactId, sequenceId),
    async saveFromForm(input, id, actor) {
      const schema = id ? updateSequenceSchema : createSequenceSchema;
      const parsed = schema.safeParse(input);
      if (!parsed.success) throw AppError.validation(zodFields(parsed.error.issues));
      if (id) await repo.updateSequence(id, parsed.data as UpdateSequence, actor);
      else await repo.createSequence(parsed.data as CreateSequence, actor);
    },
    async enrollEmails(sequenceId, emails, actor) {
      const wanted = [...new Set(emails.map((e) => e.toLowerCase()))];
      const found = await repo.contactsByEmail(wanted);
      const byId = new Map(found.map((c) => [c.id as string, (c.email as string).toLowerCase()]));
      const known = new Set(byId.values());
      const unknown = wanted.filter((e) => !known.has(e));
      if (!found.length) return { enrolled: 0, already: [], unknown };
      const result = await repo.enroll(sequenceId, [...byId.keys()], deps.clock.now(), actor);
      return {
        enrolled: result.enrolled.length,
        already: result.already_enrolled.map((id) => byId.get(id) ?? id),
        unknown,
      };
    },
    async onDeliveryEvents(events) {
      for (const status of ['bounced', 'unsubscribed'] as const) {
        const matching = events.filter((e) => STOP_EVENTS[e.type] === status);
        if (!matching.length) continue;
        const ids = await service.sequenceMessages(matching);
        const stopped = await service.stopByMessages(ids, status, `delivery event: ${matching[0]?.type}`);
        await afterStops(stopped, status);
      }
    },
    async onReply(headers, from, subject) {
      const ids = await service.messagesByHeaders(headers);
      const stopped = await service.stopByMessages(ids, 'replied', 'reply');
      for (const s of stopped) {
        if (!s.ownerSlackUserId) continue;
        const text = `:incoming_envelope: ${from || s.contactEmail} replied to your sequence: "${subject.slice(0, 200)}". The sequence stopped for them.`;
        await deps.slackPosts.send(
          s.ownerSlackUserId,
          { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] },
          { kind: 'sequence-reply' },
        );
      }
      return stopped;
    },
    handlers: {
      sequences: {
        [SEQUENCE_PLAN_JOB]: async () => ({ planned: await planNow() }),
        [SEQUENCE_SEND_JOB]: async (job, jobLogger) => {
          let outcome: Awaited<ReturnType<typeof sendStep>>;
          try {
            outcome = await sendStep(senderDeps, job.data.enrollmentId, deps.clock.now(), job.data.plannedAt);
          } catch (error) {
            // The last attempt (or a permanent error): the enrollment is `failed`, not left planned forever.
            const permanent = isAppError(error) && !error.retryable;
            if (permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
              const failed = await service.markFailed(
                job.data.enrollmentId,
                job.data.plannedAt,
                describeError(error).error,
              );
              if (failed) jobLogger.warn('sequence step failed for good: enrollment marked failed');
            }
            throw error;
          }
          if (outcome.status === 'rescheduled')
            jobLogger.info(
              `sequence send ${outcome.reason === 'over_cap' ? 'over the mailbox cap' : 'outside the window'}: rescheduled to ${outcome.at.toISOString()}`,
            );
          return outcome;
        },
      },
    },
  };
}
