import { type ConnectionOptions, type Job, UnrecoverableError, Worker } from 'bullmq';
import { isAppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { QueueName } from './queues.ts';

/** A job handler by job name; it receives the job's (id-only) data. */
export type JobHandler = (job: Job, logger: Logger) => Promise<unknown>;
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
}): WorkerPool {
  const workers: Worker[] = [];
  for (const [queue, byName] of Object.entries(options.handlers) as [
    QueueName,
    Record<string, JobHandler>,
  ][]) {
    const worker = new Worker(
      queue,
      async (job) => {
        const handler = byName[job.name];
        if (!handler) throw new UnrecoverableError(`No handler for job "${job.name}" on queue "${queue}"`);
        const logger = options.logger.child({ queue, job_id: job.id });
        try {
          return await handler(job, logger);
        } catch (error) {
          // A known permanent failure must not be retried; BullMQ stops on UnrecoverableError.
          if (isAppError(error) && !error.retryable) throw new UnrecoverableError(error.message);
          throw error;
        }
      },
      {
        connection: options.connection,
        prefix: options.prefix,
        concurrency: options.concurrency?.[queue] ?? 5,
      },
    );
    worker.on('failed', (job, error) =>
      options.logger.warn('job failed', { queue, job_id: job?.id, job: job?.name, error: error.message }),
    );
    worker.on('error', (error) => options.logger.error('worker error', { queue, error: error.message }));
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
          if (result === 'timeout') await worker.close(true);
        }),
      );
    },
  };
}
