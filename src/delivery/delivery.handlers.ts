import type { Redis } from 'ioredis';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import { type DeliverDeps, deliverMessage } from './deliver-message.worker.ts';
import { type DeliveryService, SEND_JOB, sendJobId } from './delivery.service.ts';
import type { FailoverEmailProvider } from './failover.email-provider.ts';
import type { MessageRepository, QueueRef } from './message.repository.ts';

export interface DeliveryHandlerDeps extends DeliverDeps {
  provider: FailoverEmailProvider;
  service: DeliveryService;
  queues: Queues;
  redis: Redis;
  backlogAlert: number;
  alerts: DeliverDeps['alerts'] & {
    backlog(backlog: { queue: string; depth: number; threshold: number }): Promise<void>;
  };
  /** A message in `sending` for longer than this is assumed abandoned by a dead worker. */
  stuckAfterMs: number;
}

/**
 * Finds due outbox rows whose job Redis does not have (e.g. Redis restarted empty) and enqueues
 * them again, page by page. The deterministic job id makes re-adding an existing job a no-op, so
 * checking first only serves the count in the log. `includeFuture` also restores the delayed jobs
 * of messages not yet due (the sweep run when Redis comes back).
 */
export async function sweepOutbox(
  deps: {
    repo: MessageRepository;
    service: DeliveryService;
    queues: Queues;
    redis: Redis;
    stuckAfterMs: number;
  },
  logger: Logger,
  options: { includeFuture?: boolean; pageSize?: number; maxPages?: number } = {},
): Promise<{ due: number; missing: number }> {
  const pageSize = options.pageSize ?? 5_000;
  const queue = deps.queues.get('email-delivery');
  const prefix = `${queue.opts.prefix}:${queue.name}:`;
  let due = 0;
  let missingCount = 0;
  let after: QueueRef | undefined;
  for (let page = 0; page < (options.maxPages ?? 20); page++) {
    const rows = await deps.repo.dueForSweep(deps.stuckAfterMs, pageSize, {
      includeFuture: options.includeFuture,
      after,
    });
    if (rows.length === 0) break;
    due += rows.length;
    const pipeline = deps.redis.pipeline();
    for (const ref of rows) pipeline.exists(`${prefix}${sendJobId(ref)}`);
    const results = (await pipeline.exec()) ?? [];
    const missing = rows.filter((_, index) => results[index]?.[1] === 0);
    await deps.service.enqueue(missing);
    missingCount += missing.length;
    if (rows.length < pageSize) break;
    after = rows.at(-1);
  }
  if (missingCount > 0)
    logger.warn('outbox sweeper re-enqueued messages missing from Redis', { count: missingCount });
  return { due, missing: missingCount };
}

/** After a swap away from a provider, deferred messages wait for their backoff: run them now instead. */
export async function promoteDeferred(
  deps: { repo: MessageRepository; queues: Queues },
  logger: Logger,
): Promise<number> {
  const queue = deps.queues.get('email-delivery');
  let promoted = 0;
  for (const ref of await deps.repo.deferred(5_000)) {
    const job = await queue.getJob(sendJobId(ref));
    if (job && (await job.isDelayed())) {
      await job.promote().catch(() => undefined);
      promoted++;
    }
  }
  if (promoted > 0) logger.info('deferred messages re-driven through the next provider', { count: promoted });
  return promoted;
}

export function deliveryJobHandlers(deps: DeliveryHandlerDeps): JobHandlers {
  return {
    'email-delivery': {
      [SEND_JOB]: (job, logger, token) => deliverMessage(job, deps, logger, token),
    },
    maintenance: {
      'outbox-sweep': (_job, logger) => sweepOutbox(deps, logger),
      'provider-probe': async (_job, logger) => {
        const results = await deps.provider.probeOpenProviders();
        for (const result of results) {
          if (!result.ok)
            logger.info('provider still failing its probe', {
              provider: result.provider,
              error: result.error,
            });
        }
        return { probed: results.length };
      },
      'delivery-backlog-check': async () => {
        const counts = await deps.queues.get('email-delivery').getJobCounts('waiting', 'prioritized');
        const depth = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
        if (depth > deps.backlogAlert) {
          await deps.alerts.backlog({ queue: 'email-delivery', depth, threshold: deps.backlogAlert });
        }
        return { depth };
      },
    },
  };
}
