import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { MIGRATIONS_FOLDER, pendingMigrations, prepareDatabase } from '../../src/db/migrate.ts';
import { startService } from '../../src/main.ts';
import { dropDatabase, testEnv, testLogger } from '../helpers/service.ts';

const env = testEnv({
  MIGRATE_ON_START: 'false',
  LOG_LEVEL: 'info',
  SLACK_BOT_TOKEN: '',
  SLACK_SIGNING_SECRET: '',
});
const url = env.DATABASE_URL as string;
const bundled = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')).entries
  .length;

afterAll(async () => dropDatabase(url));

describe('MIGRATE_ON_START=false (a Kubernetes Job migrates)', () => {
  it('when the database does not exist yet, then every bundled migration is pending', async () => {
    expect(bundled).toBeGreaterThan(2);
    expect(await pendingMigrations(url)).toBe(bundled);
  });

  it('when a process starts before `briefly migrate`, then it waits without touching the schema and starts once migrated', async () => {
    const config = loadConfig(env);
    const log = testLogger(config);
    let started = false;
    const starting = startService(config, log.logger, 'worker', { migrationWaitMs: 60_000 }).then((s) => {
      started = true;
      return s;
    });
    // While it waits, it creates nothing: the database is still missing.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(started).toBe(false);
    const admin = new pg.Client({ connectionString: url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      new URL(url).pathname.slice(1),
    ]);
    await admin.end();
    expect(exists.rowCount).toBe(0);

    await prepareDatabase(url); // what `briefly migrate` does
    expect(await pendingMigrations(url)).toBe(0);
    const service = await starting;
    await service.stop();
    expect(log.lines().some((l) => l.includes('waiting for'))).toBe(true);
  }, 60_000);

  it('when the migrations never come, then start fails after the wait naming `briefly migrate`', async () => {
    const other = testEnv({ MIGRATE_ON_START: 'false', SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '' });
    const config = loadConfig(other);
    await expect(
      startService(config, testLogger(config).logger, 'worker', { migrationWaitMs: 500 }),
    ).rejects.toThrow(/lacks \d+ of this version's migrations .*run `briefly migrate`/);
  }, 30_000);
});
