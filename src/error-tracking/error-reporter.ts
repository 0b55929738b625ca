import type { Logger } from '../logging/logger.ts';

/** Tags name what failed (queue, job id, the ids in its payload, the route); values are short strings. */
export type ErrorTags = Record<string, string>;

/**
 * Where unexpected errors go besides the log: Sentry when SENTRY_DSN is set, nowhere otherwise.
 * Callers report only what nobody handled (a 5xx, a job that failed for good, a schedule that
 * threw); expected failures (a 4xx, a retry that will run again) stay in the log.
 */
export interface ErrorReporter {
  readonly enabled: boolean;
  capture(error: unknown, tags: ErrorTags): void;
  /** Sends what is still buffered (at shutdown), waiting at most `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
}

export const noErrorReporter: ErrorReporter = {
  enabled: false,
  capture: () => undefined,
  flush: async () => undefined,
};

export interface ErrorTrackingOptions {
  dsn?: string;
  environment: string;
  release: string;
  logger: Logger;
  /** Also report uncaught exceptions and unhandled rejections of the whole process (the `start` command). */
  processHandlers?: boolean;
  /** Strings that must never leave the process (configuration secrets): replaced in every event. */
  secrets?: readonly string[];
}

/**
 * Without a DSN nothing is imported or initialised (the Sentry SDK is loaded only on demand), so a
 * deployment that does not use Sentry pays nothing for it.
 */
export async function createErrorReporter(options: ErrorTrackingOptions): Promise<ErrorReporter> {
  if (!options.dsn) return noErrorReporter;
  const { createSentryReporter } = await import('./sentry.error-reporter.ts');
  return createSentryReporter({ ...options, dsn: options.dsn });
}

/** Tags for a job: its queue, name and id, and every id its (id-only) payload carries. */
export function jobTags(queue: string, job: { id?: string; name?: string; data?: unknown }): ErrorTags {
  const tags: ErrorTags = { queue };
  if (job.name) tags.job_name = job.name;
  if (job.id) tags.job_id = job.id;
  if (job.data && typeof job.data === 'object') {
    for (const [key, value] of Object.entries(job.data as Record<string, unknown>)) {
      if (!/(^id$|Id$|_id$)/.test(key)) continue;
      if (typeof value === 'string' || typeof value === 'number')
        tags[toSnake(key)] = String(value).slice(0, 200);
    }
  }
  return tags;
}

const toSnake = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
