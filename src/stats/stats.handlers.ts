import type { JobHandlers } from '../jobs/workers.ts';
import { STATS_CHART_JOB, STATS_EMAIL_JOB, STATS_POST_JOB, type StatsService } from './stats.service.ts';

/** The `stats-tick` schedule's job (maintenance queue) and the `stats` queue's jobs; data holds ids only. */
export function statsJobHandlers(stats: StatsService): JobHandlers {
  return {
    maintenance: {
      'stats-tick': async () => stats.tick(),
    },
    stats: {
      [STATS_POST_JOB]: async (job) =>
        stats.runPost(String(job.data.channel_row_id), String(job.data.local_date)),
      [STATS_CHART_JOB]: async (job) =>
        stats.runChart(String(job.data.channel_row_id), String(job.data.local_date), {
          made: job.attemptsMade,
          max: job.opts.attempts ?? 1,
        }),
      [STATS_EMAIL_JOB]: async (job) =>
        stats.runEmail(String(job.data.recipient_id), String(job.data.local_date)),
    },
  };
}
