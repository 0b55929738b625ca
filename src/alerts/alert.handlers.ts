import type { JobHandlers } from '../jobs/workers.ts';
import type { AlertService } from './alert.service.ts';

export interface AlertHandlerDeps {
  alerts: AlertService;
}

/** Posting itself is the `post` job of SlackPostService (src/slack/posts/slack-post.handlers.ts). */
export function alertJobHandlers(deps: AlertHandlerDeps): JobHandlers {
  return {
    slack: {
      'flush-failures': async (job) => ({
        posted: await deps.alerts.flushFailures(String(job.data.group ?? '')),
      }),
    },
  };
}
