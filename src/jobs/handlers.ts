import type { RetentionPurger } from '../retention/retention.purger.ts';
import type { JobHandlers } from './workers.ts';

export interface HandlerDeps {
  retention: RetentionPurger;
}

/** Job handlers by queue and job name; each domain adds its own here. */
export function jobHandlers(deps: HandlerDeps): JobHandlers {
  return {
    maintenance: {
      // Every table in src/retention/retention.ts, in small batches (the audit log among them).
      'retention-purge': async (_job, logger) => ({ purged: await deps.retention.purgeAll(logger) }),
    },
  };
}
