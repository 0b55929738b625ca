import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { ADMIN_ENV, adminConfig, adminConfigProblems } from '../admin/admin.config.ts';
import { MAILOUT_ENV, mailoutConfig } from '../mailouts/mailout.config.ts';
import { RETENTION, type RetentionName } from '../retention/retention.ts';

/**
 * The whole environment, validated once at boot. Nothing else in the codebase reads `process.env`.
 * A bad or missing value stops the process with every offending variable listed (see ConfigError).
 */

const csv = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()))
    .pipe(url(protocols).optional());

export const EMAIL_PROVIDER_NAMES = ['sendgrid', 'smtp', 'file-outbox'] as const;
export type EmailProviderName = (typeof EMAIL_PROVIDER_NAMES)[number];

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/briefly'),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(200).default(20),
    MIGRATE_ON_START: z.enum(['true', 'false'], { message: 'must be true or false' }).default('true'),
    REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, "_" or "-"')
      .default('briefly'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    PUBLIC_URL: optionalUrl(['http:', 'https:']),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty', '']).default(''),
    SLACK_BOT_TOKEN: optionalString.pipe(
      z
        .string()
        .regex(/^xoxb-/, 'must be a bot token starting with "xoxb-"')
        .optional(),
    ),
    SLACK_SIGNING_SECRET: optionalString,
    SLACK_APP_TOKEN: optionalString.pipe(
      z
        .string()
        .regex(/^xapp-/, 'must be an app-level token starting with "xapp-"')
        .optional(),
    ),
    SLACK_API_URL: url(['http:', 'https:']).default('https://slack.com/api/'),
    SLACK_ADMIN_USER_IDS: csv.pipe(
      z.array(z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'must be Slack user ids such as U012ABCDEF')),
    ),
    ENCRYPTION_KEY: optionalString.pipe(
      z
        .string()
        .refine((value) => decodeKey(value) !== undefined, {
          message: 'must be 32 bytes as 64 hex characters or base64 (openssl rand -base64 32)',
        })
        .optional(),
    ),
    API_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    SCHEDULER_PROCESS_EVERY_MS: z.coerce.number().int().min(1_000).default(5_000),
    API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(6_000),
    API_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: z.coerce.number().int().min(1).default(60),
    WEBHOOK_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(3_000),
    TRUST_PROXY: z
      .string()
      .default('')
      .transform((value) => value.trim())
      .refine((value) => parseTrustProxy(value) !== undefined, {
        message: 'must be empty, true, false, a hop count, or comma-separated proxy addresses/CIDRs',
      }),
    EMAIL_PROVIDERS: csv.pipe(z.array(z.enum(EMAIL_PROVIDER_NAMES))),
    EMAIL_FROM: z
      .string()
      .default('Briefly <briefly@localhost>')
      .refine((value) => parseMailbox(value) !== undefined, {
        message: 'must be an address such as "Briefly <briefly@example.com>" or briefly@example.com',
      }),
    MESSAGE_ID_DOMAIN: optionalString.pipe(
      z
        .string()
        .toLowerCase()
        .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/, 'must be a domain such as mail.acme.com')
        .optional(),
    ),
    MESSAGE_ATTACHMENTS_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .max(100 * 1_048_576)
      .default(10_485_760),
    EMAIL_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    EMAIL_OUTBOX_DIR: z.string().min(1).default('var/outbox'),
    SENDGRID_API_KEY: optionalString,
    SENDGRID_BASE_URL: url(['http:', 'https:']).default('https://api.sendgrid.com'),
    SENDGRID_WEBHOOK_PUBLIC_KEY: optionalString,
    SEQUENCES_UNSUBSCRIBE_SECRET: optionalString,
    INBOUND_PARSE_SECRET: optionalString,
    SMTP_URL: optionalString.pipe(url(['smtp:', 'smtps:']).optional()),
    DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
    DELIVERY_BACKOFF_MS: z.coerce.number().int().min(10).default(5_000),
    DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(250),
    DELIVERY_LOCK_MS: z.coerce.number().int().min(1_000).default(30_000),
    DELIVERY_BACKLOG_ALERT: z.coerce.number().int().min(1).default(5_000),
    DELIVERY_UNKNOWN_OUTCOME_WAIT_MS: z.coerce.number().int().min(0).default(300_000),
    DELIVERY_ATTACHMENTS_IN_FLIGHT_BYTES: z.coerce.number().int().min(1_048_576).default(33_554_432),
    CIRCUIT_CONSECUTIVE_FAILURES: z.coerce.number().int().min(1).default(5),
    CIRCUIT_FAILURE_RATIO: z.coerce.number().gt(0).max(1).default(0.5),
    CIRCUIT_MIN_REQUESTS: z.coerce.number().int().min(1).default(20),
    CIRCUIT_WINDOW_MS: z.coerce.number().int().min(1_000).default(60_000),
    CIRCUIT_HALF_OPEN_TRIALS: z.coerce.number().int().min(1).max(1_000).default(3),
    CIRCUIT_REOPEN_BACKOFF_MS: z.coerce.number().int().min(10).default(10_000),
    CIRCUIT_REOPEN_BACKOFF_MAX_MS: z.coerce.number().int().min(10).default(300_000),
    ALERT_GROUP_WINDOW_MS: z.coerce.number().int().min(1_000).default(600_000),
    ALERT_FLUSH_DELAY_MS: z.coerce.number().int().min(0).default(5_000),
    COMPANY_DOMAINS: csv.pipe(
      z.array(
        z
          .string()
          .toLowerCase()
          .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be domains such as acme.com,acme.co.uk'),
      ),
    ),
    CALENDAR_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
    CALENDAR_HISTORY_DAYS: z.coerce.number().int().min(0).max(730).default(90),
    CALENDAR_HORIZON_DAYS: z.coerce.number().int().min(2).max(365).default(30),
    ICS_MAX_BYTES: z.coerce.number().int().min(1_024).default(10_485_760),
    GOOGLE_BASE_URL: url(['http:', 'https:']).default('https://www.googleapis.com'),
    GOOGLE_TOKEN_URL: url(['http:', 'https:']).default('https://oauth2.googleapis.com/token'),
    GOOGLE_AUTH_BASE_URL: url(['http:', 'https:']).default('https://accounts.google.com'),
    GOOGLE_SERVICE_ACCOUNT_JSON: optionalString.pipe(
      z
        .string()
        .refine((value) => parseServiceAccount(value) !== undefined, {
          message: 'must be the JSON key of a service account (with client_email and private_key)',
        })
        .optional(),
    ),
    GOOGLE_CLIENT_ID: optionalString,
    GOOGLE_CLIENT_SECRET: optionalString,
    GRAPH_BASE_URL: url(['http:', 'https:']).default('https://graph.microsoft.com'),
    MICROSOFT_LOGIN_BASE_URL: url(['http:', 'https:']).default('https://login.microsoftonline.com'),
    MICROSOFT_TENANT_ID: optionalString,
    MICROSOFT_CLIENT_ID: optionalString,
    MICROSOFT_CLIENT_SECRET: optionalString,
    MICROSOFT_AUTH_MODE: z
      .enum(['app', 'delegated', ''], { message: 'must be app or delegated' })
      .default(''),
    ENRICHMENT_PROVIDER: z.enum(['pdl', 'apollo', 'none', '']).default(''),
    PDL_API_KEY: optionalString,
    PDL_BASE_URL: url(['http:', 'https:']).default('https://api.peopledatalabs.com'),
    APOLLO_API_KEY: optionalString,
    APOLLO_BASE_URL: url(['http:', 'https:']).default('https://api.apollo.io'),
    ENRICHMENT_RATE_PER_MINUTE: z.coerce.number().int().min(1).default(100),
    ENRICHMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    BRIEFING_REFRESH_MINUTES: z.coerce.number().int().min(0).max(120).default(10),
    BRIEFING_CUTOFF: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
      .default('12:00'),
    BRIEFING_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(10),
    SENTRY_DSN: optionalUrl(['http:', 'https:']),
    SENTRY_ENVIRONMENT: optionalString,
    ...MAILOUT_ENV,
    ...ADMIN_ENV,
  })
  .superRefine((env, ctx) => {
    if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message: 'is required with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
      });
    }
    for (const name of env.EMAIL_PROVIDERS) {
      if (name === 'sendgrid' && !env.SENDGRID_API_KEY)
        ctx.addIssue({
          code: 'custom',
          path: ['SENDGRID_API_KEY'],
          message: 'is required when EMAIL_PROVIDERS lists sendgrid',
        });
      if (name === 'smtp' && !env.SMTP_URL)
        ctx.addIssue({
          code: 'custom',
          path: ['SMTP_URL'],
          message: 'is required when EMAIL_PROVIDERS lists smtp',
        });
      if (name === 'file-outbox' && env.NODE_ENV === 'production')
        ctx.addIssue({
          code: 'custom',
          path: ['EMAIL_PROVIDERS'],
          message: 'file-outbox is for development only, not production',
        });
    }
    if (env.NODE_ENV === 'production' && !env.SENDGRID_API_KEY && !env.SMTP_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['EMAIL_PROVIDERS'],
        message: 'production needs a real email provider: set SENDGRID_API_KEY and/or SMTP_URL',
      });
    }
    if (env.ENRICHMENT_PROVIDER === 'pdl' && !env.PDL_API_KEY)
      ctx.addIssue({
        code: 'custom',
        path: ['PDL_API_KEY'],
        message: 'is required when ENRICHMENT_PROVIDER=pdl',
      });
    if (env.ENRICHMENT_PROVIDER === 'apollo' && !env.APOLLO_API_KEY)
      ctx.addIssue({
        code: 'custom',
        path: ['APOLLO_API_KEY'],
        message: 'is required when ENRICHMENT_PROVIDER=apollo',
      });
    if (env.MICROSOFT_CLIENT_ID && !env.MICROSOFT_CLIENT_SECRET)
      ctx.addIssue({
        code: 'custom',
        path: ['MICROSOFT_CLIENT_SECRET'],
        message: 'is required with MICROSOFT_CLIENT_ID',
      });
    if (env.MICROSOFT_AUTH_MODE === 'app' && env.MICROSOFT_CLIENT_ID && !env.MICROSOFT_TENANT_ID)
      ctx.addIssue({
        code: 'custom',
        path: ['MICROSOFT_TENANT_ID'],
        message: 'is required with MICROSOFT_AUTH_MODE=app (app-only access is granted per tenant)',
      });
    if (env.GOOGLE_CLIENT_ID && !env.GOOGLE_CLIENT_SECRET)
      ctx.addIssue({
        code: 'custom',
        path: ['GOOGLE_CLIENT_SECRET'],
        message: 'is required with GOOGLE_CLIENT_ID',
      });
    if (env.NODE_ENV === 'production' && !env.ENCRYPTION_KEY) {
      ctx.addIssue({ code: 'custom', path: ['ENCRYPTION_KEY'], message: 'is required in production' });
    }
    for (const [variable, message] of adminConfigProblems(env))
      ctx.addIssue({ code: 'custom', path: [variable], message });
  });

export type Env = z.input<typeof envSchema>;

/** One variable per line of the retention list, so a table joins with its line there alone. */
const retentionSchema = z.object(
  Object.fromEntries(
    RETENTION.map((rule) => [rule.env, z.coerce.number().positive().max(36_500).default(rule.defaultDays)]),
  ),
);

/** Every environment variable Briefly reads (deployment files are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = [
  ...Object.keys(envSchema.shape),
  ...Object.keys(retentionSchema.shape),
];
/**
 * Fastify's `trustProxy`: which hops may set X-Forwarded-For. Trusting every hop (the old `true`)
 * lets any client pick its own address and so slip past per-address rate limits.
 */
export function parseTrustProxy(value: string): boolean | number | string[] | undefined {
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const list = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return list.every((item) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$|^(loopback|linklocal|uniquelocal)$/.test(item))
    ? list
    : undefined;
}

/** "Name <email>" or a bare address; undefined when it is neither. */
export function parseMailbox(value: string): { email: string; name?: string } | undefined {
  const match = /^\s*(?:"?([^"<]*?)"?\s*<([^<>\s]+@[^<>\s]+)>|([^<>\s]+@[^<>\s]+))\s*$/.exec(value);
  if (!match) return undefined;
  const email = (match[2] ?? match[3] ?? '').trim();
  const name = match[1]?.trim();
  return name ? { email, name } : { email };
}

/**
 * Provider order: EMAIL_PROVIDERS when set, else every configured vendor (SendGrid first), else
 * the file outbox outside production, so a fresh `npm start` delivers somewhere a person can open.
 */
function providerOrder(e: z.output<typeof envSchema>): EmailProviderName[] {
  if (e.EMAIL_PROVIDERS.length > 0) return [...new Set(e.EMAIL_PROVIDERS)];
  const configured: EmailProviderName[] = [];
  if (e.SENDGRID_API_KEY) configured.push('sendgrid');
  if (e.SMTP_URL) configured.push('smtp');
  return configured.length > 0 ? configured : ['file-outbox'];
}

export function parseServiceAccount(
  value: string,
): { client_email: string; private_key: string } | undefined {
  try {
    const parsed = JSON.parse(value) as { client_email?: unknown; private_key?: unknown };
    if (typeof parsed.client_email === 'string' && typeof parsed.private_key === 'string') {
      return { client_email: parsed.client_email, private_key: parsed.private_key };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** ENRICHMENT_PROVIDER when set, else the vendor whose key is present (PDL first), else none. */
function enrichmentProvider(e: z.output<typeof envSchema>): 'pdl' | 'apollo' | 'none' {
  if (e.ENRICHMENT_PROVIDER) return e.ENRICHMENT_PROVIDER;
  if (e.PDL_API_KEY) return 'pdl';
  if (e.APOLLO_API_KEY) return 'apollo';
  return 'none';
}

const trimSlash = (value: string) => value.replace(/\/+$/, '');

export function decodeKey(value: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  const buffer = Buffer.from(value, 'base64');
  return buffer.length === 32 ? buffer : undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const parsed = envSchema.safeParse(env);
  const retention = retentionSchema.safeParse(env);
  if (!parsed.success || !retention.success) {
    throw new ConfigError(
      [...(parsed.error?.issues ?? []), ...(retention.error?.issues ?? [])].map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const raw = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
        const shown = raw === undefined ? 'not set' : isSecretName(name) ? 'value hidden' : `got "${raw}"`;
        return `${name}: ${issue.message} (${shown})`;
      }),
    );
  }
  const e = parsed.data;
  const r = Object.fromEntries(
    RETENTION.map((rule) => [rule.name, retention.data[rule.env] as number]),
  ) as Record<RetentionName, number>;
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  return {
    env: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    /** false: never change the schema at start, wait for `briefly migrate` (a Kubernetes Job) instead. */
    migrateOnStart: e.MIGRATE_ON_START === 'true',
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
    http: {
      port: e.PORT,
      host: e.HOST,
      publicUrl,
      bodyLimit: e.API_BODY_LIMIT_BYTES,
      trustProxy: parseTrustProxy(e.TRUST_PROXY) ?? false,
    },
    log: {
      level: e.LOG_LEVEL,
      format: (e.LOG_FORMAT || (e.NODE_ENV === 'production' ? 'json' : 'pretty')) as 'json' | 'pretty',
    },
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL.endsWith('/') ? e.SLACK_API_URL : `${e.SLACK_API_URL}/`,
      adminUserIds: e.SLACK_ADMIN_USER_IDS,
    },
    encryptionKey: e.ENCRYPTION_KEY ? decodeKey(e.ENCRYPTION_KEY) : undefined,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    /** Days each table keeps its rows (src/retention/retention.ts). */
    retention: r,
    schedulerProcessEveryMs: e.SCHEDULER_PROCESS_EVERY_MS,
    apiRateLimitPerMinute: e.API_RATE_LIMIT_PER_MINUTE,
    rateLimits: {
      perKeyPerMinute: e.API_RATE_LIMIT_PER_MINUTE,
      unauthenticatedPerMinute: e.API_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE,
      webhookPerMinute: e.WEBHOOK_RATE_LIMIT_PER_MINUTE,
    },
    email: {
      providers: providerOrder(e),
      from: parseMailbox(e.EMAIL_FROM) ?? { email: 'briefly@localhost' },
      /** Right-hand side of the Message-IDs Briefly generates: MESSAGE_ID_DOMAIN, else EMAIL_FROM's domain. */
      messageIdDomain:
        e.MESSAGE_ID_DOMAIN ?? (parseMailbox(e.EMAIL_FROM)?.email.split('@')[1] ?? 'localhost').toLowerCase(),
      attachmentsMaxBytes: e.MESSAGE_ATTACHMENTS_MAX_BYTES,
      timeoutMs: e.EMAIL_PROVIDER_TIMEOUT_MS,
      outboxDir: e.EMAIL_OUTBOX_DIR,
      sendgrid: {
        apiKey: e.SENDGRID_API_KEY,
        baseUrl: e.SENDGRID_BASE_URL.replace(/\/+$/, ''),
        webhookPublicKey: e.SENDGRID_WEBHOOK_PUBLIC_KEY,
      },
      smtpUrl: e.SMTP_URL,
    },
    sequences: {
      /** Signs unsubscribe links; without it, a key derived from ENCRYPTION_KEY (development: a fixed one). */
      unsubscribeSecret:
        e.SEQUENCES_UNSUBSCRIBE_SECRET ??
        (e.ENCRYPTION_KEY
          ? createHmac('sha256', e.ENCRYPTION_KEY).update('briefly:unsubscribe').digest('hex')
          : 'development-unsubscribe-secret'),
      /** SendGrid Inbound Parse posts to /webhooks/inbound/<secret>; unset = the route is off. */
      inboundParseSecret: e.INBOUND_PARSE_SECRET,
    },
    delivery: {
      maxAttempts: e.DELIVERY_MAX_ATTEMPTS,
      backoffMs: e.DELIVERY_BACKOFF_MS,
      concurrency: e.DELIVERY_CONCURRENCY,
      lockMs: e.DELIVERY_LOCK_MS,
      backlogAlert: e.DELIVERY_BACKLOG_ALERT,
      unknownOutcomeWaitMs: e.DELIVERY_UNKNOWN_OUTCOME_WAIT_MS,
      attachmentsInFlightBytes: e.DELIVERY_ATTACHMENTS_IN_FLIGHT_BYTES,
      alertGroupWindowMs: e.ALERT_GROUP_WINDOW_MS,
      alertFlushDelayMs: e.ALERT_FLUSH_DELAY_MS,
    },
    calendars: {
      timeoutMs: e.CALENDAR_TIMEOUT_MS,
      historyDays: e.CALENDAR_HISTORY_DAYS,
      horizonDays: e.CALENDAR_HORIZON_DAYS,
      icsMaxBytes: e.ICS_MAX_BYTES,
      // Local files are for the bundled demo calendar; a production server must not read its own disk for a URL.
      allowFileUrls: e.NODE_ENV !== 'production',
      google: {
        baseUrl: trimSlash(e.GOOGLE_BASE_URL),
        tokenUrl: e.GOOGLE_TOKEN_URL,
        authBaseUrl: trimSlash(e.GOOGLE_AUTH_BASE_URL),
        serviceAccount: e.GOOGLE_SERVICE_ACCOUNT_JSON
          ? parseServiceAccount(e.GOOGLE_SERVICE_ACCOUNT_JSON)
          : undefined,
        clientId: e.GOOGLE_CLIENT_ID,
        clientSecret: e.GOOGLE_CLIENT_SECRET,
      },
      microsoft: {
        baseUrl: trimSlash(e.GRAPH_BASE_URL),
        loginBaseUrl: trimSlash(e.MICROSOFT_LOGIN_BASE_URL),
        tenantId: e.MICROSOFT_TENANT_ID,
        clientId: e.MICROSOFT_CLIENT_ID,
        clientSecret: e.MICROSOFT_CLIENT_SECRET,
        // App-only needs an admin's consent in one tenant; without a tenant, each rep consents.
        authMode: e.MICROSOFT_AUTH_MODE || (e.MICROSOFT_TENANT_ID ? 'app' : 'delegated'),
      },
    },
    enrichment: {
      provider: enrichmentProvider(e),
      ratePerMinute: e.ENRICHMENT_RATE_PER_MINUTE,
      timeoutMs: e.ENRICHMENT_TIMEOUT_MS,
      pdl: { apiKey: e.PDL_API_KEY, baseUrl: trimSlash(e.PDL_BASE_URL) },
      apollo: { apiKey: e.APOLLO_API_KEY, baseUrl: trimSlash(e.APOLLO_BASE_URL) },
    },
    briefings: {
      companyDomains: e.COMPANY_DOMAINS,
      refreshMinutes: e.BRIEFING_REFRESH_MINUTES,
      cutoff: e.BRIEFING_CUTOFF,
      concurrency: e.BRIEFING_CONCURRENCY,
    },
    mailouts: mailoutConfig(e),
    admin: adminConfig(e),
    /** Error tracking: with a DSN, unhandled errors and failed jobs go to Sentry; without, nothing is loaded. */
    sentry: {
      dsn: e.SENTRY_DSN,
      environment: e.SENTRY_ENVIRONMENT ?? e.NODE_ENV,
    },
    circuit: {
      consecutiveFailures: e.CIRCUIT_CONSECUTIVE_FAILURES,
      failureRatio: e.CIRCUIT_FAILURE_RATIO,
      minRequests: e.CIRCUIT_MIN_REQUESTS,
      windowMs: e.CIRCUIT_WINDOW_MS,
      halfOpenTrials: e.CIRCUIT_HALF_OPEN_TRIALS,
      reopenBackoffMs: e.CIRCUIT_REOPEN_BACKOFF_MS,
      reopenBackoffMaxMs: Math.max(e.CIRCUIT_REOPEN_BACKOFF_MAX_MS, e.CIRCUIT_REOPEN_BACKOFF_MS),
    },
  };
}

export type Config = ReturnType<typeof loadConfig>;

export function isSecretName(name: string): boolean {
  return /TOKEN|SECRET|KEY|PASSWORD|DATABASE_URL|REDIS_URL|SMTP_URL/i.test(name);
}

/** Values of the configuration that must never be written anywhere (logs, job payloads, errors). */
export function secretValues(config: Config): string[] {
  const values = [
    config.slack.botToken,
    config.slack.signingSecret,
    config.slack.appToken,
    config.encryptionKey?.toString('hex'),
    passwordOf(config.databaseUrl),
    passwordOf(config.redisUrl),
    config.email.sendgrid.apiKey,
    config.calendars.google.serviceAccount?.private_key,
    config.calendars.google.clientSecret,
    config.calendars.microsoft.clientSecret,
    config.enrichment.pdl.apiKey,
    config.enrichment.apollo.apiKey,
    config.mailouts.sendApi.token,
    config.admin.clientSecret,
    config.admin.sessionSecret,
    config.email.smtpUrl ? passwordOf(config.email.smtpUrl) : undefined,
  ];
  return values.filter((v): v is string => typeof v === 'string' && v.length >= 4);
}

function passwordOf(value: string): string | undefined {
  try {
    const password = new URL(value).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
