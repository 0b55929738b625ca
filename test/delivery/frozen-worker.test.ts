import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DeliverDeps, deliverMessage, sendClaimed } from '../../src/delivery/deliver-message.worker.ts';
import { sendJobId } from '../../src/delivery/delivery.service.ts';
import type { Claim } from '../../src/delivery/message.repository.ts';
import { accepted, type FakeAnswer, startFakeSendgrid } from '../helpers/fake-sendgrid.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

/**
 * A worker frozen past its lease (SIGSTOP, a long GC pause, a suspended VM) without SIGSTOP: worker
 * A claims a message with a short lease and then does nothing; worker B claims it once the lease
 * has run out and sends it; then A carries on. Real PostgreSQL and Redis; the web role runs no
 * BullMQ workers, so the test drives both "workers" itself.
 */

let sendgrid: Awaited<ReturnType<typeof startFakeSendgrid>>;
let svc: TestService;
let deps: DeliverDeps;
let releaseFirst: (answer: FakeAnswer) => void = () => undefined;

const job = (messageId: string) =>
  ({ data: { messageId }, attemptsMade: 0, opts: { attempts: 5 } }) as unknown as Job<{ messageId: string }>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  sendgrid = await startFakeSendgrid();
  svc = await startTestService(
    {
      EMAIL_PROVIDERS: 'sendgrid',
      SENDGRID_API_KEY: 'SG.test-key-0123456789',
      SENDGRID_BASE_URL: sendgrid.url,
    },
    'web',
  );
  deps = {
    repo: svc.delivery.repo,
    provider: svc.delivery.provider,
    metrics: svc.delivery.metrics,
    alerts: { permanentFailure: async () => undefined },
    leaseMs: 30_000,
    unknownOutcomeWaitMs: 60_000,
  };
});
afterAll(async () => {
  await svc.close();
  await sendgrid.close();
});

async function claimShort(id: string): Promise<Claim> {
  const { claim } = await svc.delivery.repo.claim(id, 300);
  if (!claim) throw new Error('worker A could not claim the message');
  return claim;
}

async function newMessage(subject: string): Promise<string> {
  const { id } = await svc.delivery.service.sendInternal({
    kind: 'test',
    to: [{ email: 'ana@client.test' }],
    subject,
    text: 'Hello',
    // Far in the future: the queued job must not matter, this test is the only sender.
    sendAt: new Date(Date.now() + 3_600_000),
  });
  await svc.db.query('UPDATE messages SET send_at = now() WHERE id = $1', [id]);
  return id;
}

const trail = async (id: string) =>
  (
    await svc.db.query(
      'SELECT type, provider, detail FROM message_events WHERE message_id = $1 ORDER BY id',
      [id],
    )
  ).rows as { type: string; provider: string | null; detail: Record<string, unknown> }[];
const row = async (id: string) =>
  (await svc.db.query('SELECT status, provider_message_id FROM messages WHERE id = $1', [id])).rows[0];

describe('a worker frozen past its lease', () => {
  it('when worker A wakes after B took the message over and sent it, then A does not call the provider and does not record sent', async () => {
    const id = await newMessage('frozen before sending');
    const a = await claimShort(id);
    await sleep(400);

    const b = await deliverMessage(job(id), deps, svc.log.logger);
    expect(b).toMatchObject({ provider: 'sendgrid' });
    expect(sendgrid.sendsOf(id)).toHaveLength(1);
    const sentByB = (await row(id)).provider_message_id;

    const resumed = await sendClaimed(a, job(id), { ...deps, leaseMs: 300 }, svc.log.logger);
    expect(resumed).toEqual({ stale: true });
    expect(sendgrid.sendsOf(id)).toHaveLength(1);
    expect(await row(id)).toEqual({ status: 'sent', provider_message_id: sentByB });
    expect((await trail(id)).map((e) => e.type)).toEqual([
      'accepted',
      'queued',
      'sending',
      'sending',
      'sent',
    ]);
  });

  it('when worker A froze inside the provider call and its answer comes after B sent, then A’s success is not recorded as sent but as a stale send', async () => {
    const id = await newMessage('frozen while sending');
    sendgrid.setAnswer((r) =>
      r.id === id && sendgrid.sendsOf(id).length === 1
        ? new Promise<FakeAnswer>((resolve) => {
            releaseFirst = resolve;
          })
        : accepted(r.id),
    );
    const a = await claimShort(id);
    const resumed = sendClaimed(a, job(id), { ...deps, leaseMs: 300 }, svc.log.logger);
    while (sendgrid.sendsOf(id).length === 0) await sleep(20);
    await sleep(400);

    const b = await deliverMessage(job(id), deps, svc.log.logger);
    expect(b).toMatchObject({ provider: 'sendgrid' });
    const sentByB = (await row(id)).provider_message_id;
    releaseFirst({ status: 202, headers: { 'X-Message-Id': 'late-answer-for-a' } });
    expect(await resumed).toMatchObject({ stale: true, provider: 'sendgrid' });

    expect(await row(id)).toEqual({ status: 'sent', provider_message_id: sentByB });
    const events = await trail(id);
    expect(events.filter((e) => e.type === 'sent')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'stale_send')).toEqual([
      expect.objectContaining({
        provider: 'sendgrid',
        detail: expect.objectContaining({ provider_message_id: 'late-answer-for-a' }),
      }),
    ]);
    const metrics = await fetch(svc.metricsUrl as string).then((r) => r.text());
    expect(metrics).toMatch(/briefly_email_stale_sends_total\{provider="sendgrid"\} 1/);
  });

  it('when the claim is fresh, then the provider is called without renewing the lease; once a quarter of the lease has passed, then the lease is renewed first', async () => {
    const leaseAtCall = async (age: 'fresh' | 'old') => {
      const id = await newMessage(`lease ${age}`);
      const { claim } = await svc.delivery.repo.claim(id, 30_000);
      if (!claim) throw new Error('could not claim the message');
      // As if the claim had been taken more than a quarter of its lease ago (its lease is still live).
      if (age === 'old') claim.fresh_until = performance.now() - 1;
      let seen: Date | undefined;
      sendgrid.setAnswer(async (r) => {
        if (r.id === id)
          seen = (await svc.db.query('SELECT lease_until FROM messages WHERE id = $1', [id])).rows[0]
            .lease_until;
        return accepted(r.id);
      });
      expect(await sendClaimed(claim, job(id), deps, svc.log.logger)).toMatchObject({ provider: 'sendgrid' });
      return { claimed: claim.lease_until.getTime(), atCall: seen?.getTime() };
    };
    const fresh = await leaseAtCall('fresh');
    expect(fresh.atCall).toBe(fresh.claimed);
    const old = await leaseAtCall('old');
    expect(old.atCall).toBeGreaterThan(old.claimed);
  });

  it('when another worker’s lease is still running, then the message is not claimed and the job is told to come back later', async () => {
    const id = await newMessage('held');
    const a = await svc.delivery.repo.claim(id, 30_000);
    expect(a.claim).toBeDefined();
    const again = await svc.delivery.repo.claim(id, 30_000);
    expect(again.claim).toBeUndefined();
    expect(again.busyUntil?.getTime()).toBeGreaterThan(Date.now());
    await expect(deliverMessage(job(id), deps, svc.log.logger)).rejects.toThrow(/held by another worker/);
    expect(sendgrid.sendsOf(id)).toHaveLength(0);
  });
});

describe('a BullMQ worker meeting a message another worker holds', () => {
  it('when the job runs while another owner’s lease is live, then it is delayed until the lease ends and then sends the message once', async () => {
    const worker = await startTestService(
      {
        EMAIL_PROVIDERS: 'sendgrid',
        SENDGRID_API_KEY: 'SG.test-key-0123456789',
        SENDGRID_BASE_URL: sendgrid.url,
      },
      'all',
    );
    try {
      const { id } = await worker.delivery.service.sendInternal({
        kind: 'test',
        to: [{ email: 'ana@client.test' }],
        subject: 'held by a frozen worker',
        text: 'Hello',
        sendAt: new Date(Date.now() + 3_600_000),
      });
      const held = await worker.delivery.repo.claim(id, 1_500);
      expect(held.claim).toBeDefined();
      const queued = await worker.queues.get('email-delivery').getJob(sendJobId({ id, round: 0 }));
      await queued?.promote();
      await vi.waitFor(
        async () => {
          const { rows } = await worker.db.query('SELECT status FROM messages WHERE id = $1', [id]);
          expect(rows[0].status).toBe('sent');
        },
        { timeout: 15_000, interval: 100 },
      );
      expect(sendgrid.sendsOf(id)).toHaveLength(1);
      // Finished send jobs are removed, so the job's history is read from the queue's event stream:
      // it was delayed until the lease ended and then completed once, never as a failed attempt.
      const queue = worker.queues.get('email-delivery');
      const jobId = sendJobId({ id, round: 0 });
      await vi.waitFor(async () => expect(await queue.getJob(jobId)).toBeUndefined(), {
        timeout: 5_000,
        interval: 50,
      });
      const redis = new Redis(worker.config.redisUrl);
      const stream = await redis
        .xrange(`${worker.config.queuePrefix}:email-delivery:events`, '-', '+')
        .finally(() => redis.disconnect());
      const events = stream
        .map(([, fields]) => {
          const event: Record<string, string> = {};
          for (let i = 0; i + 1 < fields.length; i += 2) event[fields[i] as string] = fields[i + 1] as string;
          return event;
        })
        .filter((event) => event.jobId === jobId)
        .map((event) => event.event);
      expect(events).toContain('delayed');
      expect(events).not.toContain('failed');
      expect(events.filter((event) => event === 'completed')).toHaveLength(1);
      // Two claims in all (the frozen holder's and the job's), one `sent`.
      const { rows } = await worker.db.query(
        `SELECT m.attempts, (SELECT count(*)::int FROM message_events e WHERE e.message_id = m.id AND e.type = 'sent') AS sent
         FROM messages m WHERE m.id = $1`,
        [id],
      );
      expect(rows[0]).toEqual({ attempts: 2, sent: 1 });
    } finally {
      await worker.close();
    }
  });
});
