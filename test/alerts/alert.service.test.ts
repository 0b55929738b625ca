import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDatabase } from '../../src/db/client.ts';
import { SettingsRepository } from '../../src/settings/settings.repository.ts';
import { SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;
let settings: SettingsRepository;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({ ALERT_GROUP_WINDOW_MS: '3000', ALERT_FLUSH_DELAY_MS: '200' });
  settings = new SettingsRepository(createDatabase(svc.db));
  await settings.setChannels({ alert_channel: 'CALERTS01' }, 'test');
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

interface Posted {
  channel: string;
  text: string;
  blocks: unknown[];
  at: number;
}

/** Fakes chat.postMessage; `answers` are used in order, the last one repeats. */
function fakeSlack(
  answers: { status: number; body: unknown; headers?: Record<string, string> }[] = [
    { status: 200, body: { ok: true, ts: '1.1' } },
  ],
) {
  const posted: Posted[] = [];
  nock(SLACK_HOST)
    .post('/api/chat.postMessage')
    .times(50)
    .reply((_uri, body) => {
      const answer = answers[Math.min(posted.length, answers.length - 1)] ?? {
        status: 200,
        body: { ok: true },
      };
      posted.push({ ...(body as Omit<Posted, 'at'>), at: Date.now() });
      return [answer.status, answer.body as object, answer.headers ?? {}];
    });
  return posted;
}

const rows = async (kind: string) =>
  (await svc.db.query('SELECT status, error FROM slack_posts WHERE kind = $1 ORDER BY created_at', [kind]))
    .rows;

describe('alerts', () => {
  it('when permanent failures burst with two reasons, then there is one post per reason with its count and at most 5 examples; a later failure waits for the window', async () => {
    const posted = fakeSlack();
    for (let i = 0; i < 20; i++) {
      await svc.alerts.permanentFailure({
        reason: 'sendgrid: 400 invalid from',
        messageId: `a-${i}`,
        to: `a${i}@client.test`,
      });
    }
    for (let i = 0; i < 10; i++) {
      await svc.alerts.permanentFailure({
        reason: 'smtp: 550 no such user',
        messageId: `b-${i}`,
        to: `b${i}@client.test`,
      });
    }
    await vi.waitFor(() => expect(posted).toHaveLength(2), { timeout: 10_000 });
    const byReason = Object.fromEntries(posted.map((p) => [p.text.includes('invalid from') ? 'a' : 'b', p]));
    expect(byReason.a?.text).toMatch(/^20 messages failed: sendgrid: 400 invalid from/);
    expect(byReason.b?.text).toMatch(/^10 messages failed/);
    expect(byReason.a?.channel).toBe('CALERTS01');
    expect(JSON.stringify(byReason.a?.blocks).match(/a-\d+/g)).toHaveLength(5);

    const firstPostAt = byReason.a?.at ?? 0;
    await svc.alerts.permanentFailure({
      reason: 'sendgrid: 400 invalid from',
      messageId: 'a-late',
      to: 'late@client.test',
    });
    await vi.waitFor(() => expect(posted).toHaveLength(3), { timeout: 10_000 });
    expect(posted[2]?.text).toMatch(/^1 message failed/);
    // One post per reason per window (3 s here): the late one waited for the window to pass.
    expect((posted[2]?.at ?? 0) - firstPostAt).toBeGreaterThanOrEqual(2_500);
  });

  it('when Slack answers 429 with Retry-After, then the whole slack queue waits that long and the post then succeeds', async () => {
    const posted = fakeSlack([
      { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': '1' } },
      { status: 200, body: { ok: true, ts: '1.2' } },
    ]);
    await svc.alerts.providerSwap({
      provider: 'sendgrid',
      to: 'open',
      reason: '503',
      actor: 'circuit-breaker',
      at: new Date(),
      next: 'smtp',
    });
    await vi.waitFor(async () => expect((await rows('provider-swap')).at(-1)?.status).toBe('posted'), {
      timeout: 10_000,
    });
    expect(posted).toHaveLength(2);
    expect((posted[1]?.at ?? 0) - (posted[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect(posted[1]?.text).toBe('sendgrid is failing; mail now goes through smtp');
  });

  it('when Slack says channel_not_found, then the post is marked failed and not retried', async () => {
    const posted = fakeSlack([{ status: 200, body: { ok: false, error: 'channel_not_found' } }]);
    await svc.alerts.backlog({ queue: 'email-delivery', depth: 9000, threshold: 5000 });
    await vi.waitFor(async () => expect((await rows('backlog')).at(-1)?.status).toBe('failed'), {
      timeout: 10_000,
    });
    expect((await rows('backlog')).at(-1)?.error).toMatch(/channel_not_found/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(posted).toHaveLength(1);
  });

  it('when a backlog alert repeats within the window, then it is posted once', async () => {
    const before = (await rows('backlog')).length;
    await svc.alerts.backlog({ queue: 'email-delivery', depth: 9001, threshold: 5000 });
    expect((await rows('backlog')).length).toBe(before);
  });

  it('when no alert channel is set, then the post is skipped with a hint and Slack is not called', async () => {
    await settings.setChannels({ alert_channel: null }, 'test');
    const posted = fakeSlack();
    await svc.alerts.providerSwap({
      provider: 'smtp',
      to: 'closed',
      reason: 'probe succeeded',
      actor: 'probe',
      at: new Date(),
    });
    await vi.waitFor(async () => expect((await rows('provider-swap')).at(-1)?.status).toBe('skipped'), {
      timeout: 10_000,
    });
    expect((await rows('provider-swap')).at(-1)?.error).toMatch(/\/briefly settings/);
    expect(posted).toHaveLength(0);
  });
});
