import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeliverDeps, sendClaimed } from '../../src/delivery/deliver-message.worker.ts';
import type { Claim } from '../../src/delivery/message.repository.ts';
import { startFakeSendgrid } from '../helpers/fake-sendgrid.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

/**
 * How a message whose provider call ended without an answer is remembered and resolved, on real
 * PostgreSQL and Redis (web role: no BullMQ workers, the test is the only sender).
 */

let sendgrid: Awaited<ReturnType<typeof startFakeSendgrid>>;
let svc: TestService;
let deps: DeliverDeps;

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

const job = (messageId: string) =>
  ({ data: { messageId }, attemptsMade: 0, opts: { attempts: 5 } }) as unknown as Job<{ messageId: string }>;

async function claimed(subject: string): Promise<Claim> {
  const { id } = await svc.delivery.service.sendInternal({
    kind: 'test',
    to: [{ email: 'ana@client.test' }],
    subject,
    text: 'Hello',
    sendAt: new Date(Date.now() + 3_600_000),
  });
  await svc.db.query('UPDATE messages SET send_at = now() WHERE id = $1', [id]);
  const { claim } = await svc.delivery.repo.claim(id, 30_000);
  if (!claim) throw new Error('could not claim');
  return claim;
}

const row = async (id: string) =>
  (
    await svc.db.query(
      'SELECT status, provider, provider_message_id, unknown_outcome_provider FROM messages WHERE id = $1',
      [id],
    )
  ).rows[0];

describe('unknown outcomes', () => {
  it('when a message waits on an unknown outcome, then a provider swap does not promote it to run elsewhere', async () => {
    const waiting = await claimed('waiting on sendgrid');
    await svc.delivery.repo.markUnknownOutcome(waiting.id, waiting.claim_token, 'sendgrid', 'timed out', {});
    const plain = await claimed('plainly deferred');
    await svc.delivery.repo.markStatus(plain.id, plain.claim_token, 'deferred', '503', {});
    const ids = (await svc.delivery.repo.deferred(1_000)).map((r) => r.id);
    expect(ids).toContain(plain.id);
    expect(ids).not.toContain(waiting.id);
  });

  it('when the provider’s webhook reports the message after the timeout, then it is sent by that provider without a new call', async () => {
    const claim = await claimed('reported by webhook');
    const since = await svc.delivery.repo.markUnknownOutcome(
      claim.id,
      claim.claim_token,
      'sendgrid',
      'timed out',
      {},
    );
    expect(since).toBeInstanceOf(Date);
    expect(await row(claim.id)).toMatchObject({ status: 'deferred', unknown_outcome_provider: 'sendgrid' });
    await svc.delivery.service.ingestProviderEvents('sendgrid', [
      {
        eventId: `evt-${claim.id}`,
        type: 'processed',
        at: new Date(),
        email: 'ana@client.test',
        messageId: claim.id,
        providerMessageId: 'sg-abc',
        detail: {},
        suppress: false,
      },
    ]);
    expect(await row(claim.id)).toEqual({
      status: 'sent',
      provider: 'sendgrid',
      provider_message_id: 'sg-abc',
      unknown_outcome_provider: null,
    });
    expect(sendgrid.sendsOf(claim.id)).toHaveLength(0);
  });

  it('when the webhook event came before the worker recorded the timeout, then the next attempt finds it and does not send again', async () => {
    const claim = await claimed('event raced the timeout');
    await svc.delivery.service.ingestProviderEvents('sendgrid', [
      {
        eventId: `evt-early-${claim.id}`,
        type: 'processed',
        at: new Date(),
        email: 'ana@client.test',
        messageId: claim.id,
        providerMessageId: 'sg-early',
        detail: {},
        suppress: false,
      },
    ]);
    await svc.delivery.repo.markUnknownOutcome(claim.id, claim.claim_token, 'sendgrid', 'timed out', {});
    const { claim: next } = await svc.delivery.repo.claim(claim.id, 30_000);
    if (!next) throw new Error('could not claim again');
    expect(await sendClaimed(next, job(claim.id), deps, svc.log.logger)).toMatchObject({
      resolvedByWebhook: true,
    });
    expect(await row(claim.id)).toMatchObject({
      status: 'sent',
      provider: 'sendgrid',
      provider_message_id: 'sg-early',
    });
    expect(sendgrid.sendsOf(claim.id)).toHaveLength(0);
  });

  it('when no event came and the wait is not over, then the retry calls the same provider and its 202 clears the unknown outcome', async () => {
    const claim = await claimed('retry same provider');
    await svc.delivery.repo.markUnknownOutcome(claim.id, claim.claim_token, 'sendgrid', 'timed out', {});
    const { claim: next } = await svc.delivery.repo.claim(claim.id, 30_000);
    if (!next) throw new Error('could not claim again');
    expect(await sendClaimed(next, job(claim.id), deps, svc.log.logger)).toMatchObject({
      provider: 'sendgrid',
    });
    expect(sendgrid.sendsOf(claim.id)).toHaveLength(1);
    expect(await row(claim.id)).toMatchObject({ status: 'sent', unknown_outcome_provider: null });
  });
});
