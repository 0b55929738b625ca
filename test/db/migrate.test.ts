import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { dropDatabase, uniqueName } from '../helpers/service.ts';

const url = `postgres://postgres@127.0.0.1:5432/${uniqueName('briefly_migrate')}`;

afterAll(async () => dropDatabase(url));

describe('prepareDatabase', () => {
  it('when the database is missing and two processes start at once, then it is created and migrated once', async () => {
    const results = await Promise.all([prepareDatabase(url), prepareDatabase(url)]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const tables = await client.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    const applied = await client.query('SELECT count(*)::int n FROM drizzle.__drizzle_migrations');
    await client.end();
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['agenda_jobs', 'api_keys', 'audit_log', 'reps', 'settings']),
    );
    expect(applied.rows[0].n).toBeGreaterThanOrEqual(2);
  });

  it('when run again, then nothing changes', async () => {
    expect(await prepareDatabase(url)).toEqual({ created: false });
  });

  it('when PostgreSQL is unreachable, then the error names DATABASE_URL and the address', async () => {
    await expect(prepareDatabase('postgres://postgres@127.0.0.1:1/x')).rejects.toThrow(
      /Cannot connect to PostgreSQL at 127\.0\.0\.1:1 \(DATABASE_URL\)/,
    );
  });
});
