import { z } from 'zod';

/** Environment variables of the mailouts feature (merged into the one config schema in config.ts). */
export const MAILOUT_ENV = {
  SEND_API_URL: z
    .string()
    .default('https://probe.fbrq.cloud/v1')
    .refine((value) => /^https?:\/\//.test(value), {
      message: 'must be a URL starting with http:// or https://',
    }),
  SEND_API_TOKEN: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim())),
  SEND_API_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /** Requests in flight per send job (one batch is claimed and sent at once). */
  SEND_API_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(50),
  SEND_API_RETRY_BASE_MS: z.coerce.number().int().min(10).default(2_000),
  SEND_API_RETRY_MAX_MS: z.coerce.number().int().min(100).default(300_000),
  SEND_API_PROBE_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  /**
   * Consecutive transient failures that open the send API circuit. Far higher than the email default:
   * a batch's answers arrive together, so with hundreds in flight and 30% random failures dozens
   * land "in a row" although the API works; an outage is caught by the ratio rule (CIRCUIT_*).
   */
  SEND_API_CIRCUIT_FAILURES: z.coerce.number().int().min(1).default(100),
  SEND_API_TOKEN_WARN_DAYS: z.coerce.number().int().min(0).default(7),
  /** Send jobs run at once per worker process on the `mailouts` queue. */
  MAILOUT_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  /** Parallel send jobs started per time zone when its window opens (shared by all worker processes). */
  MAILOUT_JOBS_PER_ZONE: z.coerce.number().int().min(1).max(64).default(4),
};

type MailoutEnv = { [K in keyof typeof MAILOUT_ENV]: z.output<(typeof MAILOUT_ENV)[K]> };

export function mailoutConfig(e: MailoutEnv) {
  return {
    sendApi: {
      url: e.SEND_API_URL.replace(/\/+$/, ''),
      token: e.SEND_API_TOKEN,
      timeoutMs: e.SEND_API_TIMEOUT_MS,
      concurrency: e.SEND_API_CONCURRENCY,
      retryBaseMs: e.SEND_API_RETRY_BASE_MS,
      retryMaxMs: e.SEND_API_RETRY_MAX_MS,
      probeIntervalMs: e.SEND_API_PROBE_INTERVAL_MS,
      tokenWarnDays: e.SEND_API_TOKEN_WARN_DAYS,
      circuitFailures: e.SEND_API_CIRCUIT_FAILURES,
    },
    workerConcurrency: e.MAILOUT_WORKER_CONCURRENCY,
    jobsPerZone: e.MAILOUT_JOBS_PER_ZONE,
  };
}

export type MailoutConfig = ReturnType<typeof mailoutConfig>;
