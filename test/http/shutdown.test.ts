import http from 'node:http';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { apiAuth, dropDatabase, startTestService } from '../helpers/service.ts';

describe('graceful HTTP shutdown', () => {
  it('when the service stops with a request in flight, then that request completes, new connections are refused and readiness says stopping', async () => {
    const svc = await startTestService({}, 'web');
    const locker = new pg.Client({ connectionString: svc.config.databaseUrl });
    await locker.connect();
    try {
      const auth = await apiAuth(svc);
      // Hold the request inside the handler: its INSERT waits for this lock.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
      const inFlight = fetch(`${svc.url}/v1/messages`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ to: ['ana@client.test'], subject: 'In flight', text: 'x' }),
      });
      await vi.waitFor(
        async () => {
          // Not on `locker`: inside a transaction pg_stat_activity is a snapshot that never changes.
          const { rows } = await svc.db.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO messages%'",
          );
          expect(rows[0].n).toBe(1);
        },
        { timeout: 10_000 },
      );

      const stopping = svc.stop();
      await vi.waitFor(async () => {
        await expect(fetch(`${svc.url}/healthz`)).rejects.toThrow();
      });
      const readiness = await svc.web.inject({ method: 'GET', url: '/readyz' });
      expect(readiness.statusCode).toBe(503);
      expect(readiness.json().status).toBe('stopping');

      await locker.query('COMMIT');
      const res = await inFlight;
      expect(res.status).toBe(202);
      expect(res.headers.get('connection')).toBe('close');
      const { id } = (await res.json()) as { id: string };
      await stopping;
      const { rows } = await locker.query('SELECT status FROM messages WHERE id = $1', [id]);
      expect(rows[0]?.status).toBe('queued');
    } finally {
      await locker.end();
      await svc.stop();
      await svc.db.end();
      await dropDatabase(svc.config.databaseUrl);
    }
  });

  it('when clients keep sending on keep-alive connections during the stop, then every request is answered or its new connection refused, none is reset', async () => {
    const svc = await startTestService({}, 'web');
    const { port } = new URL(svc.url ?? '');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    // node:http tells whether a failed request went out on a reused keep-alive socket.
    const request = () =>
      new Promise<'refused' | undefined>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            count(String(res.statusCode));
            resolve(undefined);
          });
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          count(`${error.code} on a ${req.reusedSocket ? 'reused' : 'new'} connection`);
          resolve(error.code === 'ECONNREFUSED' ? 'refused' : undefined);
        });
      });
    try {
      const clients = Array.from({ length: 32 }, async () => {
        while ((await request()) !== 'refused');
      });
      await vi.waitFor(() => expect(outcomes.get('200') ?? 0).toBeGreaterThan(300), { timeout: 10_000 });
      await svc.stop();
      await Promise.all(clients);
      expect([...outcomes.keys()].sort()).toEqual(['200', 'ECONNREFUSED on a new connection']);
    } finally {
      agent.destroy();
      await svc.close();
    }
  });
});
