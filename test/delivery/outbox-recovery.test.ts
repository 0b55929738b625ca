import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnCli } from '../helpers/cli.ts';
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
