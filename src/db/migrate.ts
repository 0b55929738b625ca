import { join } from 'node:path';
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
