import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { ApiKeyService } from '../../src/api-keys/api-key.service.ts';
import type { ApiScope } from '../../src/api-keys/scopes.ts';
import { AuditRepository } from '../../src/audit/audit.repository.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { createDatabase } from '../../src/db/client.ts';
import { createLogger, type Logger } from '../../src/logging/logger.ts';
import { type Role, type Service, type ServiceOptions, startService } from '../../src/main.ts';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-test-0000-token';
export const SLACK_HOST = 'https://slack.test';
export const ADMIN_USER = 'UADMIN0001';

/** A unique name per test file: its own database and its own BullMQ prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export function testEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  const name = uniqueName('briefly_test');
  return {
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
    REDIS_URL: 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: name,
    PORT: '0',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: `${SLACK_HOST}/api/`,
    SLACK_ADMIN_USER_IDS: ADMIN_USER,
    EMAIL_OUTBOX_DIR: join(tmpdir(), name, 'outbox'),
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
  /** The HTTP server (only roles `all` and `web` have one). */
  web: FastifyInstance;
  close(): Promise<void>;
}

export async function startTestService(
  overrides: Record<string, string | undefined> = {},
  role: Role = 'all',
  options: ServiceOptions = {},
): Promise<TestService> {
  const config = loadConfig(testEnv(overrides));
  const log = testLogger(config);
  const service = await startService(config, log.logger, role, options);
  const db = new pg.Pool({ connectionString: config.databaseUrl, max: 2, application_name: 'test-helper' });
  return {
    ...service,
    config,
    log,
    db,
    get web(): FastifyInstance {
      if (!service.server) throw new Error(`role ${role} has no HTTP server`);
      return service.server;
    },
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
    // FORCE would kill a connection some component still holds, which surfaces as an unhandled
    // 57P01 in whatever test runs next: wait for them to close and name any that do not.
    const deadline = Date.now() + 3_000;
    let open: { application_name: string; state: string; query: string }[] = [];
    do {
      ({ rows: open } = await admin.query(
        'SELECT application_name, state, query FROM pg_stat_activity WHERE datname = $1',
        [name],
      ));
      if (open.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    if (open.length > 0) throw new Error(`connections still open to ${name}: ${JSON.stringify(open)}`);
    await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
  } finally {
    await admin.end();
  }
}

/** A fresh API key (admin unless scopes are given) for the service's database; returns the Authorization header. */
export async function apiAuth(
  svc: TestService,
  scopes: readonly ApiScope[] = ['admin'],
): Promise<{ authorization: string }> {
  const db = createDatabase(svc.db);
  const { key } = await new ApiKeyService(db, new AuditRepository(db)).create(
    uniqueName('key'),
    'test',
    scopes,
  );
  return { authorization: `Bearer ${key}` };
}
