import { type ConnectionOptions, type Job, UnrecoverableError, Worker } from 'bullmq';
import { type ErrorReporter, jobTags } from '../error-tracking/error-reporter.ts';
import { isAppError } from '../errors.ts';
import { describeError, type Logger, withoutQueryParams } from '../logging/logger.ts';
import type { QueueName } from './queues.ts';

/**
 * A job handler by job name; it receives the job's (id-only) data. `token` is the worker's lock
 * token, needed to move the job back to delayed (e.g. to honour a vendor's Retry-After).
 */
export type JobHandler = (job: Job, logger: Logger, token?: string) => Promise<unknown>;
export type JobHandlers = Partial<Record<QueueName, Record<string, JobHandler>>>;

export interface WorkerPool {
  close(timeoutMs: number): Promise<void>;
  workers: Worker[];
}

export function startWorkers(options: {
  connection: ConnectionOptions;
  prefix: string;
  handlers: JobHandlers;
  logger: Logger;
  concurrency?: Partial<Record<QueueName, number>>;
  /** BullMQ rate limiter per queue, shared by every worker process on that queue. */
  limiter?: Partial<Record<QueueName, { max: number; duration: number }>>;
  /** A job whose worker stops renewing its lock (e.g. it was killed) is taken over within this. */
  lockMs?: Partial<Record<QueueName, number>>;
  /** Jobs that failed for good (no retry left, or a permanent failure) are reported here. */
  errors?: ErrorReporter;
}): WorkerPool {
  const workers: Worker[] = [];
  for (const [queue, byName] of Object.entries(options.handlers) as [
    QueueName,
    Record<string, JobHandler>,
  ][]) {
    const worker = new Worker(
      queue,
      async (job, token) => {
        const handler = byName[job.name];
        if (!handler) throw new UnrecoverableError(`No handler for job "${job.name}" on queue "${queue}"`);
        const logger = options.logger.child({ queue, job_id: job.id });
        try {
          return await handler(job, logger, token);
        } catch (error) {
          // BullMQ keeps the message as the job's failedReason in Redis: no query parameters there either.
          if (error instanceof Error) error.message = withoutQueryParams(error.message);
          // A known permanent failure must not be retried; BullMQ stops on UnrecoverableError.
          if (isAppError(error) && !error.retryable) throw new UnrecoverableError(error.message);
          throw error;
        }
      },
      {
        connection: options.connection,
        prefix: options.prefix,
        concurrency: options.concurrency?.[queue] ?? 5,
        ...(options.limiter?.[queue] ? { limiter: options.limiter[queue] } : {}),
        ...(options.lockMs?.[queue] ? stallSettings(options.lockMs[queue]) : {}),
      },
    );
    worker.on('failed', (job, error) => {
      options.logger.warn('job failed', { queue, job_id: job?.id, job: job?.name, ...describeError(error) });
      // BullMQ has counted this attempt already; a retry still to come is not an incident yet.
      const final =
        error instanceof UnrecoverableError ||
        error.name === 'UnrecoverableError' ||
        !job ||
        job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) options.errors?.capture(error, jobTags(queue, job ?? {}));
    });
    worker.on('error', (error) => options.logger.error('worker error', { queue, ...describeError(error) }));
    workers.push(worker);
  }
  return {
    workers,
    /**
     * Waits for in-flight jobs up to the timeout, then force-closes: BullMQ releases their locks
     * and the jobs are picked up again (stalled-job recovery) by another worker or the next start.
     */
    async close(timeoutMs: number) {
      await Promise.all(
        workers.map(async (worker) => {
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), timeoutMs);
          });
          const result = await Promise.race([worker.close().then(() => 'closed' as const), timedOut]);
          clearTimeout(timer);
          // Forcing can wait on Redis too (it may be down): bounded, the jobs are released anyway.
          if (result === 'timeout') {
            await Promise.race([
              worker.close(true).catch(() => undefined),
              new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
            ]);
          }
        }),
      );
    },
  };
}

/**
 * BullMQ settings for "taken over within `takeoverMs`". A killed worker's lock expires at most
 * `lockDuration` after the kill (it is renewed every lockDuration / 2); the stalled-job check,
 * every `stalledInterval`, moves a job back to waiting on the first check that finds it active
 * without a lock, provided the previous check already saw it active. So the takeover comes at
 * most lockDuration + stalledInterval after the kill. With lockDuration = stalledInterval =
 * takeoverMs (what this was before) it took up to twice that plus a check: about 64 s for 30 s.
 */
export function stallSettings(takeoverMs: number): { lockDuration: number; stalledInterval: number } {
  const stalledInterval = Math.max(250, Math.round(takeoverMs / 6));
  return { lockDuration: takeoverMs - stalledInterval, stalledInterval };
}

/** Combines each domain's handlers; a job name defined twice on one queue is a programming error. */
export function mergeHandlers(...parts: JobHandlers[]): JobHandlers {
  const merged: Record<string, Record<string, JobHandler>> = {};
  for (const part of parts) {
    for (const [queue, byName] of Object.entries(part)) {
      const target = merged[queue] ?? {};
      merged[queue] = target;
      for (const [name, handler] of Object.entries(byName ?? {})) {
        if (target[name]) throw new Error(`Two handlers for job "${name}" on queue "${queue}"`);
        target[name] = handler;
      }
    }
  }
  return merged as JobHandlers;
}
