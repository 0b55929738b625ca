import { z } from 'zod';

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

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/briefly'),
    REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, "_" or "-"')
      .default('briefly'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
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
    AUDIT_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).default(365),
  })
  .superRefine((env, ctx) => {
    if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message: 'is required with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
      });
    }
    if (env.NODE_ENV === 'production' && !env.ENCRYPTION_KEY) {
      ctx.addIssue({ code: 'custom', path: ['ENCRYPTION_KEY'], message: 'is required in production' });
    }
  });

export type Env = z.input<typeof envSchema>;

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
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const raw = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
        const shown = raw === undefined ? 'not set' : isSecretName(name) ? 'value hidden' : `got "${raw}"`;
        return `${name}: ${issue.message} (${shown})`;
      }),
    );
  }
  const e = parsed.data;
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  return {
    env: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    http: { port: e.PORT, host: e.HOST, publicUrl, bodyLimit: e.API_BODY_LIMIT_BYTES },
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
    auditLogRetentionDays: e.AUDIT_LOG_RETENTION_DAYS,
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
