import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { createLogger, type Logger } from '../../src/logging/logger.ts';
import { type Role, type Service, startService } from '../../src/main.ts';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-test-0000-token';
export const SLACK_HOST = 'https://slack.test';
export const ADMIN_USER = 'UADMIN0001';

/** A unique name per test file: its own database and its own BullMQ prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const name = uniqueName('briefly_test');
  return {
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
    REDIS_URL: 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: name,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: `${SLACK_HOST}/api/`,
    SLACK_ADMIN_USER_IDS: ADMIN_USER,
    ...overrides,
  };
}

export interface TestLogger {
  logger: Logger;
  lines: () => string[];
}

/** A JSON logger whose output the test can read (and assert secrets are absent from). */
export function testLogger(config: Config): TestLogger {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk) => chunks.push(String(chunk)));
  const logger = createLogger({ level: config.log.level, format: 'json', stream });
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

export interface TestService extends Service {
  config: Config;
  log: TestLogger;
  db: pg.Pool;
  close(): Promise<void>;
}

export async function startTestService(
  overrides: Record<string, string | undefined> = {},
  role: Role = 'all',
): Promise<TestService> {
  const config = loadConfig(testEnv(overrides));
  const log = testLogger(config);
  const service = await startService(config, log.logger, role);
  const db = new pg.Pool({ connectionString: config.databaseUrl, max: 2 });
  return {
    ...service,
    config,
    log,
    db,
    async close() {
      await service.stop();
      await db.end();
      await dropDatabase(config.databaseUrl);
    },
  };
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
