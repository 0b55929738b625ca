import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Removes what a bench run created: its database and every Redis key under its queue prefix
 * (completed jobs of most queues are kept for a day: without this every run left thousands of keys
 * behind, and later runs measured a fuller Redis).
 */
export async function dropBenchState(state: { databaseUrl: string; redisUrl?: string; prefix?: string }) {
  const u = new URL(state.databaseUrl);
  const name = u.pathname.slice(1);
  u.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: u.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '""')}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  if (!state.redisUrl || !state.prefix) return;
  const redis = new Redis(state.redisUrl, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${state.prefix}:*`, 'COUNT', 1_000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` every `everyMs` until it holds (true) or `timeoutMs` passes (false). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return false;
}
