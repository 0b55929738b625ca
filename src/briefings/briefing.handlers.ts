import type { Job } from 'bullmq';
import { CALENDAR_SYNC_JOB } from '../calendars/calendar.module.ts';
import type { CachedEnrichmentProvider } from '../enrichment/cached.enrichment-provider.ts';
import type { ParticipantRepository } from '../enrichment/participant.repository.ts';
import { AppError } from '../errors.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Clock } from '../shared/time.ts';
import { type BriefingService, ENRICH_JOB, FINALIZE_JOB, PREPARE_JOB } from './briefing.service.ts';

/** True when this failure is the job's last attempt (BullMQ will not retry it). */
function lastAttempt(job: Job, error: unknown): boolean {
  const permanent = error instanceof AppError && !error.retryable;
  return permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function briefingJobHandlers(deps: {
  service: BriefingService;
  syncCalendar: (repId: string) => Promise<unknown>;
  enrichment: CachedEnrichmentProvider;
  participants: ParticipantRepository;
  clock: Clock;
}): JobHandlers {
  const step =
    (run: (id: string) => Promise<unknown>) =>
    async (job: Job): Promise<unknown> => {
      const briefingId = String(job.data.briefingId ?? '');
      try {
        return await run(briefingId);
      } catch (error) {
        if (lastAttempt(job, error)) await deps.service.recordFailure(briefingId, error as Error);
        throw error;
      }
    };
  return {
    maintenance: {
      'briefing-tick': async (_job, logger) => {
        const result = await deps.service.tick();
        if (result.created + result.skipped + result.requeued > 0) logger.info('briefing tick', result);
        return result;
      },
      'enrichment-purge': async (_job, logger) => {
        const deleted = await deps.participants.purgeExpired(deps.clock.now());
        logger.info('enrichment cache purged', { deleted });
        return { deleted };
      },
    },
    briefings: {
      [PREPARE_JOB]: step((id) => deps.service.prepare(id)),
      [FINALIZE_JOB]: step((id) => deps.service.finalize(id)),
      // A dead credential is not an error here: the sync marks it broken and alerts once.
      [CALENDAR_SYNC_JOB]: async (job) => deps.syncCalendar(String(job.data.repId ?? '')),
    },
    enrichment: {
      [ENRICH_JOB]: async (job) => {
        const email = String(job.data.email ?? '').toLowerCase();
        const result = await deps.enrichment.lookupMany([email], 1);
        // Quota exhaustion is handled (alerted once, briefings degrade): not worth retrying now.
        if (result.failed.includes(email) && !result.quotaExhausted) {
          const error = result.errors.get(email);
          // The vendor's own verdict decides: a bad address is final, an outage is retried.
          if (error instanceof AppError) throw error;
          throw new AppError(
            'unavailable',
            `enrichment of one participant failed: ${error?.message ?? 'unknown'}`,
          );
        }
        return { found: Boolean(result.profiles.get(email)), quotaExhausted: result.quotaExhausted };
      },
    },
  };
}
