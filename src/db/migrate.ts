import { join } from 'node:path';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { AppError } from '../errors.ts';
import { packageRoot } from '../shared/package-root.ts';

export const MIGRATIONS_FOLDER = join(packageRoot(), 'drizzle');

/** Arbitrary constant: every Briefly process that migrates takes this advisory lock first. */
const MIGRATION_LOCK = 727_274_001;

/**
 * Creates the database named in the URL when it does not exist (connecting to the server's
 * `postgres` maintenance database to do so), then applies pending migrations under an advisory
 * lock so that several processes starting together migrate once.
 */
export async function prepareDatabase(databaseUrl: string): Promise<{ created: boolean }> {
  const created = await ensureDatabaseExists(databaseUrl);
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 5_000,
    application_name: 'briefly-migrate',
  });
  await connectOrExplain(client, databaseUrl);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('SET client_min_messages = warning');
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
  return { created };
}

export async function ensureDatabaseExists(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name)
    throw new AppError('validation_failed', 'DATABASE_URL names no database (add /briefly at the end)');
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  await connectOrExplain(admin, databaseUrl);
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } catch (error) {
      // Another process created it between our check and our CREATE: 42P04 duplicate_database,
      // or 23505 on pg_database's unique index when both CREATEs ran at the same moment.
      const code = (error as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw error;
      return false;
    }
    return true;
  } finally {
    await admin.end();
  }
}

/**
 * How many of the bundled migrations the database has not applied yet (all of them when the
 * database or drizzle's journal table does not exist). Drizzle applies, in order, every migration
 * newer than the newest one it recorded, so that record alone says what is pending.
 */
export async function pendingMigrations(databaseUrl: string): Promise<number> {
  const bundled = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 5_000,
    application_name: 'briefly-migration-check',
  });
  try {
    await client.connect();
  } catch (error) {
    // 3D000: the database does not exist yet (the migration job creates it).
    if ((error as { code?: string }).code === '3D000') return bundled.length;
    throw error;
  }
  try {
    const { rows } = await client.query<{ created_at: string | null }>(
      `SELECT max(created_at)::text AS created_at FROM drizzle.__drizzle_migrations`,
    );
    const last = Number(rows[0]?.created_at ?? 0);
    return bundled.filter((m) => m.folderMillis > last).length;
  } catch (error) {
    // 42P01 / 3F000: no journal table or schema yet, nothing was ever applied.
    const code = (error as { code?: string }).code;
    if (code === '42P01' || code === '3F000') return bundled.length;
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * For processes that must not change the schema themselves (MIGRATE_ON_START=false, e.g. on
 * Kubernetes where a Job runs `briefly migrate` before the new version rolls out): waits until the
 * database has every migration this build ships, so a new pod never runs against an old schema.
 */
export async function waitForMigrations(
  databaseUrl: string,
  options: { timeoutMs: number; intervalMs?: number; onWait?: (pending: number) => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    let pending: number;
    try {
      pending = await pendingMigrations(databaseUrl);
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      pending = -1;
    }
    if (pending === 0) return;
    if (Date.now() >= deadline) {
      throw new AppError(
        'unavailable',
        `The database lacks ${pending} of this version's migrations after ${Math.round(options.timeoutMs / 1000)} s: run \`briefly migrate\` (on Kubernetes: the briefly-migrate Job), or set MIGRATE_ON_START=true`,
      );
    }
    options.onWait?.(pending);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 2_000));
  }
}

async function connectOrExplain(client: pg.Client, databaseUrl: string): Promise<void> {
  try {
    await client.connect();
  } catch (error) {
    const url = new URL(databaseUrl);
    throw new AppError(
      'unavailable',
      `Cannot connect to PostgreSQL at ${url.hostname}:${url.port || 5432} (DATABASE_URL): ${(error as Error).message}`,
      { cause: error },
    );
  }
}
