import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDatabase } from '../../src/db/client.ts';
import { SettingsRepository } from '../../src/settings/settings.repository.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { fakeSlackApi, type SlackAnswer, type SlackCall } from '../helpers/slack.ts';

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

const rows = async (kind: string) =>
  (
    await svc.db.query(
      'SELECT status, error, channel_id, ts, thread_ts FROM slack_posts WHERE kind = $1 ORDER BY created_at',
      [kind],
    )
  ).rows;

const posts = (calls: SlackCall[]) => calls.filter((c) => c.method === 'chat.postMessage');
const text = (call: SlackCall | undefined) => String(call?.body.text ?? '');

describe('alerts', () => {
  it('when permanent failures burst with two reasons, then there is one parent post per reason; a later failure of one reason waits for the window, replies in its thread and edits the parent total', async () => {
    const calls = fakeSlackApi();
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
    await vi.waitFor(() => expect(posts(calls)).toHaveLength(2), { timeout: 10_000 });
    const byReason = Object.fromEntries(
      posts(calls).map((p) => [text(p).includes('invalid from') ? 'a' : 'b', p]),
    );
    expect(text(byReason.a)).toMatch(/^20 messages failed: sendgrid: 400 invalid from/);
    expect(text(byReason.b)).toMatch(/^10 messages failed/);
    expect(byReason.a?.body.channel).toBe('CALERTS01');
    expect(byReason.a?.body.thread_ts).toBeUndefined();
    expect(JSON.stringify(byReason.a?.body.blocks).match(/a-\d+/g)).toHaveLength(5);
    const parentTs = (await rows('delivery-failures')).find((r) => r.ts)?.ts;
    expect(parentTs).toBeTruthy();

    const firstPostAt = byReason.a?.at ?? 0;
    await svc.alerts.permanentFailure({
      reason: 'sendgrid: 400 invalid from',
      messageId: 'a-late',
      to: 'late@client.test',
    });
    await vi.waitFor(
      () => {
        expect(posts(calls)).toHaveLength(3);
        expect(calls.filter((c) => c.method === 'chat.update')).toHaveLength(1);
      },
      { timeout: 10_000 },
    );
    const reply = posts(calls)[2];
    expect(text(reply)).toMatch(/^1 more message failed: sendgrid: 400 invalid from/);
    // One post per reason per window (3 s here): the follow-up waited for the window to pass.
    expect((reply?.at ?? 0) - firstPostAt).toBeGreaterThanOrEqual(2_500);
    // The follow-up is in the incident's thread, under the parent of its own reason.
    const parentA = (await rows('delivery-failures')).find(
      (r) => r.ts && !r.thread_ts && r.ts === reply?.body.thread_ts,
    );
    expect(parentA).toBeDefined();
    const update = calls.find((c) => c.method === 'chat.update');
    expect(update?.body).toMatchObject({ channel: 'CALERTS01', ts: reply?.body.thread_ts });
    expect(text(update)).toMatch(/^21 messages failed/);
  });

  it('when Slack answers 429 with Retry-After, then the whole slack queue waits that long and the post then succeeds', async () => {
    let n = 0;
    const calls = fakeSlackApi((call): SlackAnswer | undefined =>
      call.method === 'chat.postMessage' && n++ === 0
        ? { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': '1' } }
        : undefined,
    );
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
    expect(posts(calls)).toHaveLength(2);
    expect((posts(calls)[1]?.at ?? 0) - (posts(calls)[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect(text(posts(calls)[1])).toBe('sendgrid is failing; mail now goes through smtp');
  });

  it('when the provider that swapped out swaps back, then the restore is a reply in the outage thread, also shown in the channel, and the parent says resolved', async () => {
    const calls = fakeSlackApi();
    await svc.alerts.providerSwap({
      provider: 'sendgrid',
      to: 'closed',
      reason: 'probe succeeded',
      actor: 'probe',
      at: new Date(),
    });
    await vi.waitFor(() => expect(posts(calls)).toHaveLength(1), { timeout: 10_000 });
    const [parent, reply] = await rows('provider-swap');
    expect(parent?.ts).toBeTruthy();
    expect(posts(calls)[0]?.body).toMatchObject({
      channel: 'CALERTS01',
      thread_ts: parent?.ts,
      reply_broadcast: 'true',
      text: 'sendgrid is back; traffic swapped back',
    });
    await vi.waitFor(async () => expect((await rows('provider-swap'))[1]?.status).toBe('posted'));
    expect(reply).toBeDefined();
    // The outage's parent is edited to say it is over.
    await vi.waitFor(() => expect(calls.filter((c) => c.method === 'chat.update')).toHaveLength(1), {
      timeout: 10_000,
    });
    expect(calls.find((c) => c.method === 'chat.update')?.body).toMatchObject({
      channel: 'CALERTS01',
      ts: parent?.ts,
      text: expect.stringMatching(/^sendgrid was failing for \d+ min; resolved$/),
    });
  });

  it('when a backlog alert repeats within the window, then it is posted once', async () => {
    fakeSlackApi();
    await svc.alerts.backlog({ queue: 'email-delivery', depth: 9000, threshold: 5000 });
    const before = (await rows('backlog')).length;
    await svc.alerts.backlog({ queue: 'email-delivery', depth: 9001, threshold: 5000 });
    expect((await rows('backlog')).length).toBe(before);
    expect(before).toBe(1);
    await vi.waitFor(async () => expect((await rows('backlog'))[0]?.status).toBe('posted'), {
      timeout: 10_000,
    });
  });

  it('when Slack answers 500 and then garbage, then the post is retried until it goes out once', async () => {
    let n = 0;
    const calls = fakeSlackApi((call): SlackAnswer | undefined => {
      if (call.method !== 'chat.postMessage' || call.body.channel !== 'UFLAKY0001') return undefined;
      n++;
      if (n <= 3) return { status: 500, body: { ok: false } };
      if (n === 4) return { body: { unexpected: 'shape' } };
      return undefined;
    });
    await svc.alerts.post('briefing-dm', { text: 'Your briefing', blocks: [] }, 'UFLAKY0001');
    await vi.waitFor(async () => expect((await rows('briefing-dm')).at(-1)?.status).toBe('posted'), {
      timeout: 20_000,
    });
    expect(posts(calls).filter((c) => c.body.channel === 'UFLAKY0001')).toHaveLength(5);
    expect((await rows('briefing-dm')).at(-1)?.channel_id).toBe('DFLAKY0001');
  });

  it('when a DM cannot be delivered (user_not_found), then that post fails at once and is not retried', async () => {
    const calls = fakeSlackApi((call) =>
      call.method === 'chat.postMessage' ? { body: { ok: false, error: 'user_not_found' } } : undefined,
    );
    await svc.alerts.post('briefing-dm', { text: 'Your briefing', blocks: [] }, 'UGONE00001');
    await vi.waitFor(async () => expect((await rows('briefing-dm')).at(-1)?.status).toBe('failed'), {
      timeout: 10_000,
    });
    expect((await rows('briefing-dm')).at(-1)?.error).toMatch(/user_not_found/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(posts(calls).filter((c) => c.body.channel === 'UGONE00001')).toHaveLength(1);
  });
});

describe('SlackPostService', () => {
  it('when post() is called twice for a key and replies follow, then one message is posted then edited in place, and every reply threads under it (never under a reply)', async () => {
    const calls = fakeSlackApi();
    await svc.slackPosts.post('mailout-approval:42', 'CAPPROVE1', { text: 'Mailout 42 needs approval' });
    await vi.waitFor(
      async () => expect((await svc.slackPosts.find('mailout-approval:42'))?.ts).toBeTruthy(),
      {
        timeout: 10_000,
      },
    );
    const first = await svc.slackPosts.find('mailout-approval:42');
    expect(first).toMatchObject({ status: 'posted', channelId: 'CAPPROVE1' });

    await svc.slackPosts.post('mailout-approval:42', 'CAPPROVE1', { text: 'Mailout 42 approved by Ana' });
    await svc.slackPosts.reply(
      'mailout-approval:42',
      { text: 'Sending: 0 of 1,000' },
      { key: 'mailout-progress:42' },
    );
    await vi.waitFor(
      () => {
        expect(calls.filter((c) => c.method === 'chat.update')).toHaveLength(1);
        expect(posts(calls)).toHaveLength(2);
      },
      { timeout: 10_000 },
    );
    await vi.waitFor(async () => expect((await svc.slackPosts.find('mailout-progress:42'))?.ts).toBeTruthy());
    await svc.slackPosts.reply('mailout-progress:42', { text: 'Done' });
    await svc.slackPosts.reply(
      'mailout-approval:42',
      { text: 'Sending: 500 of 1,000' },
      { key: 'mailout-progress:42' },
    );
    await vi.waitFor(
      () => {
        expect(calls.filter((c) => c.method === 'chat.update')).toHaveLength(2);
        expect(posts(calls)).toHaveLength(3);
      },
      { timeout: 10_000 },
    );

    const updates = calls.filter((c) => c.method === 'chat.update');
    expect(updates[0]?.body).toMatchObject({
      channel: 'CAPPROVE1',
      ts: first?.ts,
      text: 'Mailout 42 approved by Ana',
    });
    const progress = await svc.slackPosts.find('mailout-progress:42');
    expect(updates[1]?.body).toMatchObject({
      channel: 'CAPPROVE1',
      ts: progress?.ts,
      text: 'Sending: 500 of 1,000',
    });
    const replies = posts(calls).slice(1);
    expect(replies.map((r) => r.body.thread_ts)).toEqual([first?.ts, first?.ts]);
    expect(replies.map((r) => text(r))).toEqual(['Sending: 0 of 1,000', 'Done']);
    expect(progress?.threadTs).toBe(first?.ts);
  });

  it('when a reply is asked for before its parent went out, then it waits and follows the parent into its thread', async () => {
    const calls = fakeSlackApi();
    await svc.slackPosts.post(
      'stats:CSTATS0001:2026-12-01',
      'CSTATS0001',
      { text: 'Stats' },
      { delayMs: 1_000 },
    );
    await svc.slackPosts.reply('stats:CSTATS0001:2026-12-01', { text: 'Chart' });
    await vi.waitFor(() => expect(posts(calls)).toHaveLength(2), { timeout: 10_000 });
    expect(text(posts(calls)[0])).toBe('Stats');
    expect(posts(calls)[1]?.body.thread_ts).toBe(
      (await svc.slackPosts.find('stats:CSTATS0001:2026-12-01'))?.ts,
    );
  });

  it('when Redis lost a post’s job, then the sweeper posts it; a post delayed to later is left alone', async () => {
    const calls = fakeSlackApi();
    const lost = await svc.db.query(
      `INSERT INTO slack_posts (kind, channel, text, created_at) VALUES ('sweep-test', 'CSWEEP0001', 'Lost in Redis', now() - interval '5 minutes') RETURNING id`,
    );
    await svc.db.query(
      `INSERT INTO slack_posts (kind, channel, text, created_at, not_before) VALUES ('sweep-test', 'CSWEEP0001', 'At 08:00', now() - interval '5 minutes', now() + interval '1 hour')`,
    );
    await svc.queues.get('slack').add('post-sweep', {}, { jobId: `sweep-test-${Date.now()}` });
    await vi.waitFor(() => expect(posts(calls)).toHaveLength(1), { timeout: 10_000 });
    expect(text(posts(calls)[0])).toBe('Lost in Redis');
    const statuses = async () =>
      (await svc.db.query("SELECT id, status FROM slack_posts WHERE kind = 'sweep-test' ORDER BY text DESC"))
        .rows;
    await vi.waitFor(async () =>
      expect(await statuses()).toEqual([
        { id: lost.rows[0].id, status: 'posted' },
        { id: expect.any(String), status: 'pending' },
      ]),
    );
    // A second sweep finds nothing to do.
    expect(await svc.slackPosts.sweep()).toBe(0);
  });

  it('when reply() names a key that does not exist, then it says so', async () => {
    await expect(svc.slackPosts.reply('nope:1', { text: 'x' })).rejects.toThrow(
      /No Slack post with key "nope:1"/,
    );
  });
});
