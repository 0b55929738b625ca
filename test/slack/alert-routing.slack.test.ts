import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CALLBACKS, SETTINGS_FORM_BLOCKS } from '../../blocks/ids.ts';
import { createDatabase } from '../../src/db/client.ts';
import { SettingsRepository } from '../../src/settings/settings.repository.ts';
import { ADMIN_USER, startTestService, type TestService } from '../helpers/service.ts';
import { event, fakeSlackApi, interaction, type SlackCall, viewSubmission } from '../helpers/slack.ts';

const SECOND_ADMIN = 'UADMIN0002';

let svc: TestService;
let settings: SettingsRepository;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService();
  settings = new SettingsRepository(createDatabase(svc.db));
  await svc.db.query(
    `INSERT INTO reps (name, email, time_zone, slack_user_id, role) VALUES ('Ada', 'ada@acme.com', 'UTC', $1, 'admin')`,
    [SECOND_ADMIN],
  );
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

const posts = (calls: SlackCall[], channel?: string) =>
  calls.filter((c) => c.method === 'chat.postMessage' && (!channel || c.body.channel === channel));

const rows = async (kind: string) =>
  (
    await svc.db.query(
      'SELECT status, error, channel, channel_id, ts, thread_ts, copy_of FROM slack_posts WHERE kind = $1 ORDER BY created_at',
      [kind],
    )
  ).rows;

function saveSettings(values: Partial<Record<keyof typeof SETTINGS_FORM_BLOCKS, string | null>>) {
  return interaction(
    svc.web,
    viewSubmission(ADMIN_USER, {
      callback_id: CALLBACKS.settingsForm,
      values: Object.fromEntries(
        Object.entries(SETTINGS_FORM_BLOCKS).map(([key, blockId]) => [
          blockId,
          {
            value: {
              type: 'conversations_select',
              selected_conversation: values[key as keyof typeof SETTINGS_FORM_BLOCKS] ?? null,
            },
          },
        ]),
      ),
    }),
  );
}

async function homeFor(user: string, calls: SlackCall[]): Promise<string> {
  const before = calls.filter((c) => c.method === 'views.publish').length;
  await event(svc.web, { type: 'app_home_opened', user, channel: 'D0HOME0001', tab: 'home' });
  await vi.waitFor(() => expect(calls.filter((c) => c.method === 'views.publish').length).toBe(before + 1));
  return JSON.stringify(calls.filter((c) => c.method === 'views.publish').at(-1)?.body);
}

describe('alerts with no alert channel set', () => {
  it('when a provider swaps out and back, then every admin gets the alert by DM, with the restore in the thread of their own copy and the copy edited to resolved', async () => {
    const calls = fakeSlackApi();
    await svc.alerts.providerSwap({
      provider: 'smtp',
      to: 'open',
      reason: 'ECONNREFUSED',
      actor: 'circuit-breaker',
      at: new Date(),
    });
    await vi.waitFor(() => expect(posts(calls)).toHaveLength(2), { timeout: 10_000 });
    expect(
      posts(calls)
        .map((c) => c.body.channel)
        .sort(),
    ).toEqual([ADMIN_USER, SECOND_ADMIN]);
    for (const dm of posts(calls)) {
      expect(dm.body.text).toBe('smtp is failing; no backup available');
      expect(JSON.stringify(dm.body.blocks)).toContain('no alert channel is set');
      expect(dm.body.thread_ts).toBeUndefined();
    }
    const [original] = await rows('provider-swap');
    expect(original).toMatchObject({ channel: 'alert_channel', status: 'redirected' });

    await svc.alerts.providerSwap({
      provider: 'smtp',
      to: 'closed',
      reason: 'probe ok',
      actor: 'probe',
      at: new Date(),
    });
    await vi.waitFor(() => expect(posts(calls)).toHaveLength(4), { timeout: 10_000 });
    const copies = (await rows('provider-swap')).filter((r) => r.copy_of && !r.thread_ts && r.ts);
    expect(copies).toHaveLength(2);
    for (const reply of posts(calls).slice(2)) {
      const copy = copies.find((c) => c.channel_id === `D${String(reply.body.channel).slice(1)}`);
      expect(reply.body.channel).toBe(copy?.channel_id);
      expect(reply.body.thread_ts).toBe(copy?.ts);
      expect(reply.body.text).toBe('smtp is back; traffic swapped back');
    }
    // Each admin's copy of the outage message is edited to say it is over.
    await vi.waitFor(() => expect(calls.filter((c) => c.method === 'chat.update')).toHaveLength(2), {
      timeout: 10_000,
    });
    for (const update of calls.filter((c) => c.method === 'chat.update')) {
      expect(update.body.text).toMatch(/^smtp was failing for \d+ min; resolved$/);
      expect(copies.map((c) => `${c.channel_id}/${c.ts}`)).toContain(
        `${update.body.channel}/${update.body.ts}`,
      );
    }
  });

  it('when a keyed post that went to the admins is posted again, then each admin’s copy is edited in place', async () => {
    const calls = fakeSlackApi();
    await svc.slackPosts.post('mailout-approval:7', 'approvals_channel', {
      text: 'Mailout 7 needs approval',
    });
    await vi.waitFor(() => expect(posts(calls)).toHaveLength(2), { timeout: 10_000 });
    await vi.waitFor(async () =>
      expect((await rows('mailout-approval')).filter((r) => r.copy_of && r.ts)).toHaveLength(2),
    );
    await svc.slackPosts.post('mailout-approval:7', 'approvals_channel', { text: 'Mailout 7 approved' });
    await vi.waitFor(() => expect(calls.filter((c) => c.method === 'chat.update')).toHaveLength(2), {
      timeout: 10_000,
    });
    const copies = (await rows('mailout-approval')).filter((r) => r.copy_of);
    for (const update of calls.filter((c) => c.method === 'chat.update')) {
      expect(update.body.text).toBe('Mailout 7 approved');
      expect(JSON.stringify(update.body.blocks)).toContain('no approvals channel is set');
      expect(copies.map((c) => `${c.channel_id}/${c.ts}`)).toContain(
        `${update.body.channel}/${update.body.ts}`,
      );
    }
    expect(posts(calls)).toHaveLength(2);
  });

  it('when an admin opens App Home, then it warns that no alert channel is set; a rep sees no such warning', async () => {
    const calls = fakeSlackApi();
    expect(await homeFor(ADMIN_USER, calls)).toContain('No alert channel is set');
    await svc.db.query(
      `INSERT INTO reps (name, email, time_zone, slack_user_id) VALUES ('Bo', 'bo@acme.com', 'UTC', 'UREP000001')`,
    );
    expect(await homeFor('UREP000001', calls)).not.toContain('No alert channel is set');
  });
});

describe('an alert channel the bot cannot post to', () => {
  it('when Slack says not_in_channel, then the admins get one DM naming the fix, later alerts wait without calling Slack, and saving the setting joins the channel and posts them', async () => {
    await settings.setChannels({ alert_channel: 'C0PUBLIC01' }, 'test');
    let joined = false;
    const calls = fakeSlackApi((call) => {
      if (call.method === 'chat.postMessage' && call.body.channel === 'C0PUBLIC01' && !joined) {
        return { body: { ok: false, error: 'not_in_channel' } };
      }
      if (call.method === 'conversations.info') {
        return {
          body: {
            ok: true,
            channel: {
              id: 'C0PUBLIC01',
              name: 'alerts',
              is_private: false,
              is_archived: false,
              is_member: joined,
            },
          },
        };
      }
      if (call.method === 'conversations.join') joined = true;
      return undefined;
    });

    await svc.alerts.backlog({ queue: 'email-delivery', depth: 9000, threshold: 5000 });
    await vi.waitFor(
      () => expect(posts(calls).filter((c) => c.body.channel !== 'C0PUBLIC01')).toHaveLength(2),
      {
        timeout: 10_000,
      },
    );
    const dms = posts(calls).filter((c) => c.body.channel !== 'C0PUBLIC01');
    expect(dms.map((c) => c.body.channel).sort()).toEqual([ADMIN_USER, SECOND_ADMIN]);
    for (const dm of dms) {
      expect(dm.body.text).toMatch(/cannot post to the alert channel <#C0PUBLIC01> \(not_in_channel\)/);
      expect(JSON.stringify(dm.body.blocks)).toContain('/invite @Briefly');
      expect(JSON.stringify(dm.body.blocks)).toContain('/briefly settings');
    }
    expect((await rows('backlog'))[0]).toMatchObject({ status: 'held', error: 'not_in_channel' });

    await svc.alerts.post('briefing-failed', { text: 'A briefing failed', blocks: [] });
    await vi.waitFor(async () => expect((await rows('briefing-failed'))[0]?.status).toBe('held'), {
      timeout: 10_000,
    });
    // Known broken: no second try at the channel and no second DM.
    expect(posts(calls, 'C0PUBLIC01')).toHaveLength(1);
    expect(posts(calls)).toHaveLength(3);
    expect(await homeFor(ADMIN_USER, calls)).toContain('2 posts are waiting');

    const res = await saveSettings({ alert_channel: 'C0PUBLIC01' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(calls.filter((c) => c.method === 'conversations.join').map((c) => c.body.channel)).toEqual([
      'C0PUBLIC01',
    ]);
    await vi.waitFor(() => expect(posts(calls, 'C0PUBLIC01')).toHaveLength(3), { timeout: 10_000 });
    expect(
      posts(calls, 'C0PUBLIC01')
        .slice(1)
        .map((c) => c.body.text)
        .sort(),
    ).toEqual(['9000 sends waiting in email-delivery (threshold 5000)', 'A briefing failed']);
    await vi.waitFor(async () => {
      expect((await rows('backlog'))[0]?.status).toBe('posted');
      expect((await rows('briefing-failed'))[0]?.status).toBe('posted');
    });
    expect(posts(calls)).toHaveLength(5);
    expect(await homeFor(ADMIN_USER, calls)).not.toContain('waiting');
  });
});

describe('/briefly settings checks each chosen channel', () => {
  it('when the channels are private without the bot, archived and unknown, then each field says what to do and nothing is saved', async () => {
    await settings.setChannels({ alert_channel: 'C0PUBLIC01', stats_channel: null }, 'test');
    const calls = fakeSlackApi((call) => {
      if (call.method !== 'conversations.info') return undefined;
      const id = String(call.body.channel);
      if (id === 'C0GONE0001') return { body: { ok: false, error: 'channel_not_found' } };
      return {
        body: {
          ok: true,
          channel: {
            id,
            name: id.toLowerCase(),
            is_private: id === 'G0PRIVATE1',
            is_archived: id === 'C0ARCHIVE1',
            is_member: false,
          },
        },
      };
    });
    const res = await saveSettings({
      alert_channel: 'G0PRIVATE1',
      stats_channel: 'C0ARCHIVE1',
      approvals_channel: 'C0GONE0001',
    });
    expect(res.json()).toEqual({
      response_action: 'errors',
      errors: {
        [SETTINGS_FORM_BLOCKS.alert_channel]: expect.stringMatching(/private channel.*\/invite @Briefly/),
        [SETTINGS_FORM_BLOCKS.stats_channel]: expect.stringMatching(/archived/),
        [SETTINGS_FORM_BLOCKS.approvals_channel]: expect.stringMatching(
          /cannot see this channel.*\/invite @Briefly/,
        ),
      },
    });
    expect(calls.filter((c) => c.method === 'conversations.info')).toHaveLength(3);
    expect(calls.filter((c) => c.method === 'conversations.join')).toHaveLength(0);
    expect(await settings.getChannels()).toEqual({ alert_channel: 'C0PUBLIC01' });
  });

  it('when a public channel is chosen that the bot is not in, then the bot joins it and the setting is saved', async () => {
    const calls = fakeSlackApi((call) =>
      call.method === 'conversations.info'
        ? {
            body: {
              ok: true,
              channel: {
                id: call.body.channel,
                is_private: false,
                is_archived: false,
                is_member: call.body.channel === 'C0PUBLIC01',
              },
            },
          }
        : undefined,
    );
    const res = await saveSettings({ alert_channel: 'C0PUBLIC01', stats_channel: 'C0STATS002' });
    expect(res.body).toBe('');
    expect(calls.filter((c) => c.method === 'conversations.join').map((c) => c.body.channel)).toEqual([
      'C0STATS002',
    ]);
    expect(await settings.getChannels()).toEqual({
      alert_channel: 'C0PUBLIC01',
      stats_channel: 'C0STATS002',
    });
  });
});
