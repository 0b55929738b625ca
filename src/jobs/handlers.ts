import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Clock } from '../shared/time.ts';
import type { JobHandlers } from './workers.ts';

export interface HandlerDeps {
  audit: AuditRepository;
  clock: Clock;
  auditLogRetentionDays: number;
}

/** Job handlers by queue and job name; each domain adds its own here. */
export function jobHandlers(deps: HandlerDeps): JobHandlers {
  return {
    maintenance: {
      'audit-log-purge': async (_job, logger) => {
        const cutoff = new Date(deps.clock.now().getTime() - deps.auditLogRetentionDays * 86_400_000);
        const deleted = await deps.audit.purgeOlderThan(cutoff);
        logger.info('audit log purged', { deleted, cutoff: cutoff.toISOString() });
        return { deleted };
      },
    },
  };
}
