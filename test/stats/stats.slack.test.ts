import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACTIONS, CALLBACKS, STATS_CHANNEL_FORM_BLOCKS } from '../../blocks/ids.ts';
import { statsPostJobId } from '../../src/stats/stats.service.ts';
import { ADMIN_USER, apiAuth, startTestService, type TestService } from '../helpers/service.ts';
import {
  blockAction,
  fakeSlackApi,
  interaction,
  type SlackCall,
  slashCommand,
  viewSubmission,
} from '../helpers/slack.ts';

const FILES_HOST = 'https://files.slack.test';
let now = new Date('2026-12-01T03:00:00Z'); // 08:30 in Kolkata, 22:00 (30 Nov) in New York
const clock = { now: () => now };
let svc: TestService;
let auth: { authorization: string };
let calls: SlackCall[];
let uploads: { path: string; bytes: Buffer; authorization?: string }[];
let failUploads = false;
let fileCounter = 0;

/** Block Kit limits Slack enforces (a payload past them is refused). */
function expectWithinLimits(blocks: Record<string, unknown>[], max = 50) {
  expect(blocks.length).toBeLessThanOrEqual(max);
  for (const block of blocks) {
    const text = (block.text as { text?: string } | undefined)?.text ?? '';
    expect(text.length).toBeLessThanOrEqual(block.type === 'header' ? 150 : 3000);
    if (typeof block.block_id === 'string') expect(block.block_id.length).toBeLessThanOrEqual(255);
    for (const element of (block.elements as { text?: string | { text: string } }[] | undefined) ?? []) {
      const t = typeof element.text === 'string' ? element.text : element.text?.text;
      if (t) expect(t.length).toBeLessThanOrEqual(block.type === 'context' ? 2000 : 75);
    }
  }
}

/** Bodies arrive form-encoded: nested values (blocks, view) may still be JSON strings. */
function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

function slackAnswer(call: SlackCall) {
  const channel = String(call.body.channel ?? call.body.channel_id ?? '');
  if (call.method === 'conversations.info') {
    return {
      body: {
        ok: true,
        channel: { id: channel, is_private: false, is_archived: channel === 'C0ARCHIVE1', is_member: true },
      },
    };
  }
  if (call.method === 'chat.postMessage' && channel === 'C0GONE0001') {
    return { body: { ok: false, error: 'not_in_channel' } };
  }
  if (call.method === 'files.getUploadURLExternal') {
    fileCounter += 1;
    return {
      body: { ok: true, upload_url: `${FILES_HOST}/upload/v1/F${fileCounter}`, file_id: `F${fileCounter}` },
    };
  }
  if (call.method === 'files.completeUploadExternal')
    return { body: { ok: true, files: [{ id: 'F', title: 't' }] } };
  return undefined;
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({}, 'all', { clock });
  auth = await apiAuth(svc);
});
beforeEach(() => {
  calls = fakeSlackApi(slackAnswer);
  uploads = [];
  nock(FILES_HOST)
    .persist()
    .post(/^\/upload\/v1\/F\d+$/)
    .reply(function (uri, body) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const bytes =
        /^[0-9a-f]+$/i.test(raw) && raw.length % 2 === 0
          ? Buffer.from(raw, 'hex')
          : Buffer.from(raw, 'binary');
      uploads.push({ path: uri, bytes, authorization: this.req.headers.authorization as string | undefined });
      return failUploads ? [500, 'upstream error'] : [200, 'OK - 1234'];
    });
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

const posts = (channel: string) =>
  calls.filter((c) => c.method === 'chat.postMessage' && c.body.channel === channel);
const method = (name: string) => calls.filter((c) => c.method === name);
const run = async (channelRowId: string, date: string) =>
  (
    await svc.db.query('SELECT * FROM stats_runs WHERE target_id = $1 AND local_date = $2', [
      channelRowId,
      date,
    ])
  ).rows[0];

async function addChannel(body: Record<string, unknown>) {
  const res = await svc.web.inject({
    method: 'POST',
    url: '/v1/stats-channels',
    headers: auth,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; channel_id: string; status: string };
}

describe('daily stats posts', () => {
  let kolkata: { id: string };
  let newYork: { id: string };

  it('when 09:00 passes in Kolkata, then the previous local day is posted once, keyed by channel and date, and the chart goes into its thread', async () => {
    kolkata = await addChannel({ channel_id: 'C0KOLKATA1', time_zone: 'Asia/Kolkata' });
    expect(method('conversations.info').map((c) => c.body.channel)).toEqual(['C0KOLKATA1']);

    now = new Date('2026-12-01T03:29:00Z'); // 08:59 IST
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 0 });
    now = new Date('2026-12-01T03:31:00Z'); // 09:01 IST; 22:31 in New York
    expect(await svc.stats.service.tick()).toEqual({ posts: 1, emails: 0 });
    expect(await svc.queues.get('stats').getJob(statsPostJobId('C0KOLKATA1', '2026-12-01'))).toBeDefined();

    await vi.waitFor(() => expect(posts('C0KOLKATA1')).toHaveLength(1), { timeout: 20_000 });
    const post = posts('C0KOLKATA1')[0] as SlackCall;
    expect(post.body.text).toBe('Briefly daily stats for Monday 30 November 2026');
    const blocks = json<Record<string, unknown>[]>(post.body.blocks);
    expectWithinLimits(blocks);
    const shown = JSON.stringify(blocks);
    expect(shown).toContain('Asia/Kolkata, IST (UTC+5:30)');
    for (const title of ['Deliveries', 'Mailouts', 'Sequences', 'Appointments', 'Briefings']) {
      expect(shown).toContain(`*${title}*`);
    }
    // A second tick (another scheduler, the next minute) enqueues nothing.
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 0 });

    await vi.waitFor(() => expect(method('files.completeUploadExternal')).toHaveLength(1), {
      timeout: 40_000,
    });
    const [getUrl] = method('files.getUploadURLExternal');
    expect(getUrl?.body).toMatchObject({ filename: 'briefly-stats-2026-12-01.png' });
    const complete = method('files.completeUploadExternal')[0] as SlackCall;
    const ts = (await svc.slackPosts.find('stats:C0KOLKATA1:2026-12-01'))?.ts;
    expect(ts).toBeTruthy();
    expect(complete.body).toMatchObject({ channel_id: 'C0KOLKATA1', thread_ts: ts });
    expect(json(complete.body.files)).toEqual([{ id: 'F1', title: expect.stringContaining('14 days') }]);
    expect(uploads).toHaveLength(1);
    expect(uploads[0]?.authorization).toBeUndefined();
    expect(uploads[0]?.bytes.length).toBe(Number(getUrl?.body.length));
    expect(uploads[0]?.bytes.subarray(0, 4).toString('hex')).toBe('89504e47');
    await vi.waitFor(async () =>
      expect(await run(kolkata.id, '2026-12-01')).toMatchObject({
        status: 'done',
        chart_status: 'uploaded',
        chart_file_id: 'F1',
      }),
    );
  });

  it('when the post runs again for the same channel and date (a rerun, a second scheduler), then the message is edited in place and the chart is not uploaded again', async () => {
    const first = await svc.slackPosts.find('stats:C0KOLKATA1:2026-12-01');
    await svc.stats.service.runPost(kolkata.id, '2026-12-01');
    const res = await svc.web.inject({
      method: 'POST',
      url: `/v1/stats-channels/${kolkata.id}/run`,
      headers: auth,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json().local_date).toBe('2026-12-01');
    await vi.waitFor(() => expect(method('chat.update').length).toBeGreaterThanOrEqual(2), {
      timeout: 20_000,
    });
    for (const update of method('chat.update')) {
      expect(update.body).toMatchObject({ channel: 'C0KOLKATA1', ts: first?.ts });
      expect(update.body.text).toBe('Briefly daily stats for Monday 30 November 2026');
    }
    await new Promise((r) => setTimeout(r, 3_000));
    expect(posts('C0KOLKATA1')).toHaveLength(0);
    expect(method('files.getUploadURLExternal')).toHaveLength(0);
    const rows = await svc.db.query(
      "SELECT count(*)::int AS n FROM slack_posts WHERE kind = 'stats' AND channel = 'C0KOLKATA1'",
    );
    expect(rows.rows[0].n).toBe(1);
  });

  it('when 09:00 passes in New York, then its channel gets 30 November counted in New York time', async () => {
    now = new Date('2026-12-01T13:00:00Z'); // 08:00 EST: saved before its time, nothing is posted yet
    newYork = await addChannel({ channel_id: 'C0NEWYORK1', time: '09:00', time_zone: 'America/New_York' });
    expect(await svc.stats.service.tick()).toEqual({ posts: 0, emails: 0 });
    now = new Date('2026-12-01T14:01:00Z'); // 09:01 EST
    expect(await svc.stats.service.tick()).toEqual({ posts: 1, emails: 0 });
    await vi.waitFor(() => expect(posts('C0NEWYORK1')).toHaveLength(1), { timeout: 20_000 });
    const shown = JSON.stringify(posts('C0NEWYORK1')[0]?.body.blocks);
    expect(shown).toContain('Monday 30 November 2026');
    expect(shown).toContain('America/New_York, EST (UTC-5)');
    await vi.waitFor(async () =>
      expect((await run(newYork.id, '2026-12-01'))?.report).toMatchObject({
        localDate: '2026-11-30',
        from: '2026-11-30T05:00:00.000Z',
        to: '2026-12-01T05:00:00.000Z',
      }),
    );
    await vi.waitFor(() => expect(method('files.completeUploadExternal')).toHaveLength(1), {
      timeout: 40_000,
    });
  });

  it('when the chart upload fails, then the text post is out all the same and the failure is recorded', async () => {
    failUploads = true;
    try {
      const channel = await addChannel({
        channel_id: 'C0UPLOAD01',
        time: '08:00',
        time_zone: 'America/New_York',
      });
      // Saved after 08:00 local: today's post goes out at once.
      await vi.waitFor(() => expect(posts('C0UPLOAD01')).toHaveLength(1), { timeout: 20_000 });
      await vi.waitFor(() => expect(uploads.length).toBeGreaterThanOrEqual(1), { timeout: 40_000 });
      await vi.waitFor(
        async () => expect((await run(channel.id, '2026-12-01'))?.chart_error).toMatch(/HTTP 500/),
        {
          timeout: 20_000,
        },
      );
      expect(method('files.completeUploadExternal')).toHaveLength(0);
      expect((await svc.slackPosts.find('stats:C0UPLOAD01:2026-12-01'))?.status).toBe('posted');
    } finally {
      failUploads = false;
    }
  });

  it('when Slack says the bot is not in the channel, then the channel is paused, the admins are told once, and the next day is not tried', async () => {
    const channel = await addChannel({
      channel_id: 'C0GONE0001',
      time: '08:00',
      time_zone: 'America/New_York',
    });
    await vi.waitFor(() => expect(posts('C0GONE0001')).toHaveLength(1), { timeout: 20_000 });
    await vi.waitFor(
      async () => {
        const row = (
          await svc.db.query('SELECT status, broken_reason FROM stats_channels WHERE id = $1', [channel.id])
        ).rows[0];
        expect(row).toEqual({ status: 'broken', broken_reason: 'not_in_channel' });
      },
      { timeout: 40_000 },
    );
    // No alert channel is set: the admin gets it by DM, once.
    await vi.waitFor(() => expect(posts(ADMIN_USER)).toHaveLength(1), { timeout: 20_000 });
    expect(posts(ADMIN_USER)[0]?.body.text).toBe(
      'Briefly cannot post daily stats to <#C0GONE0001> (not_in_channel); that channel is paused.',
    );

    now = new Date('2026-12-02T14:01:00Z'); // the next day, 09:01 EST
    await svc.stats.service.tick();
    const rerun = await svc.web.inject({
      method: 'POST',
      url: `/v1/stats-channels/${channel.id}/run`,
      headers: auth,
    });
    expect(rerun.statusCode).toBe(409);
    await vi.waitFor(() => expect(posts('C0NEWYORK1')).toHaveLength(1), { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(posts('C0GONE0001')).toHaveLength(1);
    expect(posts(ADMIN_USER)).toHaveLength(1);
    expect(await run(channel.id, '2026-12-02')).toBeUndefined();

    // Saved again (after inviting the bot): checked, resumed, today's post goes out.
    const fixed = await svc.web.inject({
      method: 'PATCH',
      url: `/v1/stats-channels/${channel.id}`,
      headers: auth,
      payload: {},
    });
    expect(fixed.statusCode).toBe(200);
    expect(fixed.json()).toMatchObject({ status: 'active', broken_reason: null });
    await vi.waitFor(() => expect(posts('C0GONE0001')).toHaveLength(2), { timeout: 20_000 });
  });
});

describe('stats channels API', () => {
  it('when the body is wrong, then 400 names each field and nothing is stored; a refused channel, a duplicate and a narrow key are refused too', async () => {
    const before = (await svc.db.query('SELECT count(*)::int AS n FROM stats_channels')).rows[0].n;
    const bad = await svc.web.inject({
      method: 'POST',
      url: '/v1/stats-channels',
      headers: auth,
      payload: { channel_id: '#sales', time: '9am', time_zone: 'Mars/Base', sections: ['weather'] },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .errors.map((e: { field: string }) => e.field)
        .sort(),
    ).toEqual(expect.arrayContaining(['channel_id', 'time', 'time_zone']));
    expect(JSON.stringify(bad.json().errors)).toMatch(/sections/);
    const archived = await svc.web.inject({
      method: 'POST',
      url: '/v1/stats-channels',
      headers: auth,
      payload: { channel_id: 'C0ARCHIVE1', time_zone: 'UTC' },
    });
    expect(archived.statusCode).toBe(400);
    expect(archived.json().errors).toEqual([
      { field: 'channel_id', message: 'This channel is archived: pick another one.' },
    ]);
    expect((await svc.db.query('SELECT count(*)::int AS n FROM stats_channels')).rows[0].n).toBe(before);
    const audit = await svc.db.query(
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'stats_channel.create'",
    );

    const dup = await svc.web.inject({
      method: 'POST',
      url: '/v1/stats-channels',
      headers: auth,
      payload: { channel_id: 'C0KOLKATA1', time_zone: 'UTC' },
    });
    expect(dup.statusCode).toBe(409);
    expect(
      (await svc.db.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'stats_channel.create'"))
        .rows[0].n,
    ).toBe(audit.rows[0].n);
    const narrow = await apiAuth(svc, ['read', 'send']);
    expect(
      (await svc.web.inject({ method: 'GET', url: '/v1/stats-channels', headers: narrow })).statusCode,
    ).toBe(403);

    const list = await svc.web.inject({ method: 'GET', url: '/v1/stats-channels', headers: auth });
    const kolkata = list.json().channels.find((c: { channel_id: string }) => c.channel_id === 'C0KOLKATA1');
    expect(kolkata).toMatchObject({ time: '09:00', time_zone: 'Asia/Kolkata', status: 'active' });
    const patched = await svc.web.inject({
      method: 'PATCH',
      url: `/v1/stats-channels/${kolkata.id}`,
      headers: auth,
      payload: { time: '10:30', sections: ['briefings', 'deliveries'] },
    });
    expect(patched.json()).toMatchObject({ time: '10:30', sections: ['deliveries', 'briefings'] });
    const gone = await svc.web.inject({
      method: 'DELETE',
      url: `/v1/stats-channels/${kolkata.id}`,
      headers: auth,
    });
    expect(gone.statusCode).toBe(204);
    expect(
      (await svc.web.inject({ method: 'GET', url: `/v1/stats-channels/${kolkata.id}`, headers: auth }))
        .statusCode,
    ).toBe(404);
  });

  it('when the settings modal names a Stats channel, then it becomes a stats channel at 09:00 UTC', async () => {
    await svc.db.query(`INSERT INTO settings (key, value) VALUES ('stats_channel', '"C0SETTING1"')`);
    await svc.stats.service.tick();
    const row = (await svc.db.query("SELECT * FROM stats_channels WHERE channel_id = 'C0SETTING1'")).rows[0];
    expect(row).toMatchObject({ post_time: '09:00', time_zone: 'UTC', created_by: 'settings' });
    // Removing it clears the setting too, so the next tick does not bring it back.
    await svc.stats.service.deleteChannel(row.id, { id: 'test' });
    await svc.stats.service.tick();
    expect(
      (await svc.db.query("SELECT 1 FROM stats_channels WHERE channel_id = 'C0SETTING1'")).rowCount,
    ).toBe(0);
  });
});

describe('daily stats channels in Slack', () => {
  it('when an admin opens /briefly settings, then a button pushes the stats channels modal, which adds a channel and lists it', async () => {
    const opened = await slashCommand(svc.web, {
      command: '/briefly',
      text: 'settings',
      user_id: ADMIN_USER,
    });
    expect(opened.statusCode).toBe(200);
    await vi.waitFor(() => expect(method('views.open')).toHaveLength(1));
    const settingsBlocks = json<{ blocks: Record<string, unknown>[] }>(
      method('views.open')[0]?.body.view,
    ).blocks;
    expect(JSON.stringify(settingsBlocks)).toContain(ACTIONS.statsChannelsOpen);

    await interaction(
      svc.web,
      blockAction(
        ADMIN_USER,
        { action_id: ACTIONS.statsChannelsOpen, value: 'open' },
        { container: { type: 'view', view_id: 'V0SETTINGS' }, view: { id: 'V0SETTINGS', hash: 'h1' } },
      ),
    );
    await vi.waitFor(() => expect(method('views.push')).toHaveLength(1));
    const pushed = json<{ callback_id: string; blocks: Record<string, unknown>[] }>(
      method('views.push')[0]?.body.view,
    );
    expect(pushed.callback_id).toBe(CALLBACKS.statsChannels);
    expectWithinLimits(pushed.blocks, 100);

    const values = (zone: string) => ({
      [STATS_CHANNEL_FORM_BLOCKS.channel]: {
        value: { type: 'conversations_select', selected_conversation: 'C0SLACKADD' },
      },
      [STATS_CHANNEL_FORM_BLOCKS.time]: { value: { type: 'timepicker', selected_time: '07:45' } },
      [STATS_CHANNEL_FORM_BLOCKS.timeZone]: { value: { type: 'plain_text_input', value: zone } },
      [STATS_CHANNEL_FORM_BLOCKS.sections]: {
        value: { type: 'checkboxes', selected_options: [{ value: 'mailouts' }, { value: 'deliveries' }] },
      },
    });
    const wrong = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, { callback_id: CALLBACKS.statsChannels, values: values('Kolkata') }),
    );
    expect(wrong.json()).toEqual({
      response_action: 'errors',
      errors: {
        [STATS_CHANNEL_FORM_BLOCKS.timeZone]:
          'must be an IANA time zone such as Asia/Kolkata or America/New_York',
      },
    });
    const saved = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, { callback_id: CALLBACKS.statsChannels, values: values('Asia/Kolkata') }),
    );
    expect(saved.json().response_action).toBe('update');
    expect(JSON.stringify(saved.json().view.blocks)).toContain(
      '<#C0SLACKADD> · 07:45 Asia/Kolkata · deliveries, mailouts',
    );
    const row = (await svc.db.query("SELECT * FROM stats_channels WHERE channel_id = 'C0SLACKADD'")).rows[0];
    expect(row).toMatchObject({
      post_time: '07:45',
      time_zone: 'Asia/Kolkata',
      sections: ['deliveries', 'mailouts'],
    });

    await interaction(
      svc.web,
      blockAction(
        ADMIN_USER,
        { action_id: ACTIONS.statsChannelRemove, value: row.id },
        { container: { type: 'view', view_id: 'V0STATS' }, view: { id: 'V0STATS', hash: 'h2' } },
      ),
    );
    await vi.waitFor(() => expect(method('views.update')).toHaveLength(1));
    expect(JSON.stringify(method('views.update')[0]?.body.view)).not.toContain('C0SLACKADD');
    expect(
      (await svc.db.query("SELECT 1 FROM stats_channels WHERE channel_id = 'C0SLACKADD'")).rowCount,
    ).toBe(0);
  });

  it('when someone who is not an admin submits the stats modal, then nothing is stored and the field says why', async () => {
    const res = await interaction(
      svc.web,
      viewSubmission('UNOBODY001', {
        callback_id: CALLBACKS.statsChannels,
        values: {
          [STATS_CHANNEL_FORM_BLOCKS.channel]: {
            value: { type: 'conversations_select', selected_conversation: 'C0NOTADMIN' },
          },
        },
      }),
    );
    expect(res.json().response_action).toBe('errors');
    expect(
      (await svc.db.query("SELECT 1 FROM stats_channels WHERE channel_id = 'C0NOTADMIN'")).rowCount,
    ).toBe(0);
  });
});
