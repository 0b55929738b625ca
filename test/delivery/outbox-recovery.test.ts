import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnCli } from '../helpers/cli.ts';
import { startPrivateRedis, startProxy } from '../helpers/redis-server.ts';
import { apiAuth, startTestService, type TestService, testEnv } from '../helpers/service.ts';

/**
 * A fake SendGrid on loopback (not nock: a worker in a child process must reach it too). It
 * records every mail/send by our message id; `hang` makes it hold requests open without answering.
 */
async function startFakeSendgrid() {
  const calls = new Map<string, number>();
  const state = { hang: false, onHang: (_id: string) => {} };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      const id: string = body.custom_args?.briefly_message_id ?? 'none';
      calls.set(id, (calls.get(id) ?? 0) + 1);
      if (state.hang) {
        state.onHang(id);
        return;
      }
      res.writeHead(202, { 'X-Message-Id': `fake-${id}` }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let sendgrid: Awaited<ReturnType<typeof startFakeSendgrid>>;
beforeAll(async () => {
  sendgrid = await startFakeSendgrid();
});
afterAll(async () => {
  await sendgrid.close();
});

describe('outbox recovery', () => {
  it('when Redis loses every queued job, then the sweeper enqueues the due messages again and each is sent exactly once', async () => {
    const svc: TestService = await startTestService({
      EMAIL_PROVIDERS: 'sendgrid',
      SENDGRID_API_KEY: 'SG.test-key-0123456789',
      SENDGRID_BASE_URL: sendgrid.url,
    });
    const redis = new Redis(svc.config.redisUrl);
    try {
      const auth = await apiAuth(svc);
      const sendAt = new Date(Date.now() + 2_000).toISOString();
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const res = await svc.web.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: auth,
          payload: { to: [`r${i}@client.test`], subject: `s${i}`, text: 'x', send_at: sendAt },
        });
        ids.push(res.json().id);
      }
      // "Redis restarted empty": every key of this deployment is gone, jobs included.
      const keys = await redis.keys(`${svc.config.queuePrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      expect(await svc.queues.get('email-delivery').getJob(`msg-${ids[0]}-0`)).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 2_200));

      const maintenance = svc.queues.get('maintenance');
      await maintenance.add('outbox-sweep', {}, { jobId: 'sweep-1' });
      await maintenance.add('outbox-sweep', {}, { jobId: 'sweep-2' });
      await vi.waitFor(
        async () => {
          const { rows } = await svc.db.query(
            "SELECT count(*)::int AS n FROM messages WHERE status = 'sent'",
          );
          expect(rows[0].n).toBe(40);
        },
        { timeout: 15_000, interval: 200 },
      );
      await maintenance.add('outbox-sweep', {}, { jobId: 'sweep-3' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const id of ids) expect(sendgrid.calls.get(id)).toBe(1);
    } finally {
      await redis.quit();
      await svc.close();
    }
  });

  it('when the worker process is killed mid-send, then another worker takes the job over and the message is sent', async () => {
    const env = testEnv({
      EMAIL_PROVIDERS: 'sendgrid',
      SENDGRID_API_KEY: 'SG.test-key-0123456789',
      SENDGRID_BASE_URL: sendgrid.url,
      DELIVERY_LOCK_MS: '1500',
      EMAIL_PROVIDER_TIMEOUT_MS: '60000',
    });
    // The API without workers, then a worker in a child process that we kill with SIGKILL.
    const web = await startTestService(env, 'web');
    const auth = await apiAuth(web);
    const hung = new Promise<string>((resolve) => {
      sendgrid.state.onHang = resolve;
    });
    sendgrid.state.hang = true;
    const child = spawnCli(['start', '--role', 'worker'], env);
    try {
      const res = await web.web.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: auth,
        payload: { to: ['ana@client.test'], subject: 'Killed mid-send', text: 'x' },
      });
      const { id } = res.json();
      expect(await hung).toBe(id);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      sendgrid.state.hang = false;

      const worker = await startTestService(env, 'worker');
      try {
        await vi.waitFor(
          async () => {
            const { rows } = await web.db.query('SELECT status FROM messages WHERE id = $1', [id]);
            expect(rows[0].status).toBe('sent');
          },
          { timeout: 20_000, interval: 250 },
        );
        const events = await web.db.query(
          "SELECT type FROM message_events WHERE message_id = $1 AND type IN ('sending', 'sent') ORDER BY at, id",
          [id],
        );
        // The first attempt reached the provider before the kill, so the provider saw it twice:
        // at-least-once delivery (SendGrid has no idempotency key). Briefly records one `sent`.
        expect(events.rows.map((r) => r.type)).toEqual(['sending', 'sending', 'sent']);
        expect(sendgrid.calls.get(id)).toBe(2);
      } finally {
        await worker.stop();
        await worker.db.end();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await web.close();
    }
  });
});

describe('Redis down or emptied while accepting', () => {
  const sendgridEnv = () => ({
    EMAIL_PROVIDERS: 'sendgrid',
    SENDGRID_API_KEY: 'SG.test-key-0123456789',
    SENDGRID_BASE_URL: sendgrid.url,
  });

  it('when Redis is unreachable, then POST /v1/messages answers 202 with the row stored, and once Redis is back every message is enqueued and sent once', async () => {
    const own = await startPrivateRedis();
    const proxy = await startProxy(own.port);
    const svc = await startTestService({
      ...sendgridEnv(),
      REDIS_URL: proxy.url,
      API_RATE_LIMIT_PER_MINUTE: '3',
    });
    try {
      const auth = await apiAuth(svc);
      const post = (payload: Record<string, unknown>) =>
        svc.web.inject({ method: 'POST', url: '/v1/messages', headers: auth, payload });

      // The service has marked this Redis as holding its data (so a data loss would be noticed).
      const direct = new Redis(own.url);
      await vi.waitFor(
        async () => expect(await direct.exists(`${svc.config.queuePrefix}:outbox:marker`)).toBe(1),
        { timeout: 5_000 },
      );
      await direct.quit();
      await proxy.cut();
      await vi.waitFor(() => expect(svc.queues.ready()).toBe(false));
      const accepted: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await post({
          to: [`down${i}@client.test`],
          subject: `During the outage ${i}`,
          text: 'x',
        });
        expect(res.statusCode).toBe(202);
        accepted.push(res.json().id);
      }
      // The per-key limit (3) still holds, kept locally while Redis is away.
      expect(
        (await post({ to: ['over@client.test'], subject: 'Over the limit', text: 'x' })).statusCode,
      ).toBe(429);
      const { rows } = await svc.db.query('SELECT status FROM messages WHERE id = ANY($1::uuid[])', [
        accepted,
      ]);
      expect(rows.map((r) => r.status)).toEqual(['queued', 'queued', 'queued']);
      // One of them as if a worker had claimed it and died while Redis was away: left in `sending`.
      await svc.db.query(
        "UPDATE messages SET status = 'sending', updated_at = now() - interval '2 minutes' WHERE id = $1",
        [accepted[2]],
      );
      const ready = await svc.web.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      // Anonymous callers get the verdict only (details need an admin key).
      expect(ready.json()).toEqual({ status: 'degraded' });
      expect((await fetch(svc.metricsUrl as string)).status).toBe(200);

      // Redis kept its data (the marker too): only the reconnect can trigger the sweep this soon.
      await proxy.restore();
      await vi.waitFor(
        async () => {
          const sent = await svc.db.query(
            "SELECT count(*)::int AS n FROM messages WHERE id = ANY($1::uuid[]) AND status = 'sent'",
            [accepted],
          );
          expect(sent.rows[0].n).toBe(3);
        },
        { timeout: 15_000, interval: 200 },
      );
      for (const id of accepted) expect(sendgrid.calls.get(id)).toBe(1);
    } finally {
      await svc.close();
      await proxy.close();
      await own.close();
    }
  });

  it('when Redis restarts empty, then the messages accepted before are enqueued again at once and sent once', async () => {
    const own = await startPrivateRedis();
    const svc = await startTestService({ ...sendgridEnv(), REDIS_URL: own.url });
    try {
      const auth = await apiAuth(svc);
      const sendAt = new Date(Date.now() + 3_000).toISOString();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await svc.web.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: auth,
          payload: { to: [`r${i}@client.test`], subject: `Restart ${i}`, text: 'x', send_at: sendAt },
        });
        ids.push(res.json().id);
      }
      await own.stop();
      await own.start();
      await vi.waitFor(
        async () => {
          const sent = await svc.db.query(
            "SELECT count(*)::int AS n FROM messages WHERE id = ANY($1::uuid[]) AND status = 'sent'",
            [ids],
          );
          expect(sent.rows[0].n).toBe(3);
        },
        { timeout: 15_000, interval: 200 },
      );
      for (const id of ids) expect(sendgrid.calls.get(id)).toBe(1);
    } finally {
      await svc.close();
      await own.close();
    }
  });

  it('when Redis loses its data without disconnecting, then due and future messages get their jobs back without waiting for the scheduled sweep', async () => {
    const svc = await startTestService({ ...sendgridEnv(), SCHEDULER_PROCESS_EVERY_MS: '60000' });
    const redis = new Redis(svc.config.redisUrl);
    try {
      const auth = await apiAuth(svc);
      const post = (payload: Record<string, unknown>) =>
        svc.web.inject({ method: 'POST', url: '/v1/messages', headers: auth, payload });
      const soon = (
        await post({
          to: ['soon@client.test'],
          subject: 'Soon',
          text: 'x',
          send_at: new Date(Date.now() + 1_500).toISOString(),
        })
      ).json().id;
      const tomorrow = (
        await post({
          to: ['tomorrow@client.test'],
          subject: 'Tomorrow',
          text: 'x',
          send_at: new Date(Date.now() + 86_400_000).toISOString(),
        })
      ).json().id;
      const queue = svc.queues.get('email-delivery');
      expect(await queue.getJob(`msg-${tomorrow}-0`)).toBeDefined();
      const keys = await redis.keys(`${svc.config.queuePrefix}:*`);
      await redis.del(...keys);
      expect(await queue.getJob(`msg-${soon}-0`)).toBeUndefined();

      await vi.waitFor(
        async () => {
          const { rows } = await svc.db.query('SELECT status FROM messages WHERE id = $1', [soon]);
          expect(rows[0].status).toBe('sent');
        },
        { timeout: 20_000, interval: 200 },
      );
      const restored = await queue.getJob(`msg-${tomorrow}-0`);
      expect(await restored?.isDelayed()).toBe(true);
      expect(sendgrid.calls.get(soon)).toBe(1);
      expect(sendgrid.calls.get(tomorrow)).toBeUndefined();
    } finally {
      await redis.quit();
      await svc.close();
    }
  });
});
