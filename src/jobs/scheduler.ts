import { PostgresBackend } from '@agendajs/postgres-backend';
import { Agenda } from 'agenda';
import type pg from 'pg';
import type { ErrorReporter } from '../error-tracking/error-reporter.ts';
import type { Logger } from '../logging/logger.ts';
import type { Queues } from './queues.ts';
import { SCHEDULES, type Schedule, scheduledJobId } from './schedules.ts';

export interface Scheduler {
  stop(): Promise<void>;
  agenda: Agenda;
}

/**
 * Starts Agenda on our PostgreSQL pool (its table comes from our migrations, hence
 * ensureSchema: false) and (re)declares every schedule; `every` upserts by name, so starting
 * twice or on several machines keeps one row per schedule.
 */
export async function startScheduler(options: {
  pool: pg.Pool;
  queues: Queues;
  logger: Logger;
  schedules?: readonly Schedule[];
  processEvery?: number;
  /** A schedule run that threw (it could not enqueue its job) is reported here. */
  errors?: ErrorReporter;
}): Promise<Scheduler> {
  const schedules = options.schedules ?? SCHEDULES;
  const agenda = new Agenda({
    backend: new PostgresBackend({ pool: options.pool, ensureSchema: false }),
    processEvery: options.processEvery ?? 30_000,
    name: `briefly-${process.pid}`,
  });
  agenda.on('error', (error) => options.logger.error('scheduler error', { error: error.message }));
  agenda.on('fail', (error: Error | string, job: { attrs: { name: string; _id?: unknown } }) => {
    options.logger.error('schedule failed', {
      schedule: job.attrs.name,
      error: String((error as Error).message ?? error),
    });
    options.errors?.capture(error instanceof Error ? error : new Error(String(error)), {
      component: 'scheduler',
      schedule: job.attrs.name,
      ...(job.attrs._id !== undefined ? { schedule_job_id: String(job.attrs._id) } : {}),
    });
  });
  for (const schedule of schedules) {
    agenda.define(schedule.name, async () => {
      const jobId = scheduledJobId(schedule, new Date());
      await options.queues.get(schedule.queue).add(schedule.job, { schedule: schedule.name }, { jobId });
      options.logger.debug('schedule fired', { schedule: schedule.name, job_id: jobId });
    });
  }
  await agenda.start();
  for (const schedule of schedules) {
    await agenda.every(schedule.every, schedule.name, undefined, {
      timezone: schedule.timezone,
      skipImmediate: true,
    });
  }
  return {
    agenda,
    async stop() {
      await agenda.stop(false);
    },
  };
}
