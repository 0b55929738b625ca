import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CALLBACKS, COMMANDS, SETTINGS_FORM_BLOCKS } from '../../blocks/ids.ts';
import { ADMIN_USER, SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';
import {
  decodeSlackBody,
  event,
  fakeAuthTest,
  interaction,
  slackApi,
  slashCommand,
  viewSubmission,
} from '../helpers/slack.ts';

let svc: TestService;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService();
});
beforeEach(() => fakeAuthTest());
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

describe('/briefly', () => {
  it('when anyone runs /briefly help, then the help lists the commands they may use', async () => {
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'help',
      user_id: 'UNOBODY001',
    });
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    const text = JSON.stringify(body.blocks);
    expect(text).toContain('/reps');
    expect(text).not.toContain('/briefly settings');
    expect(body).toMatchSnapshot();
  });

  it('when an admin runs /briefly, then help also lists settings and reps add', async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.briefly, user_id: ADMIN_USER });
    const text = JSON.stringify(res.json().blocks);
    expect(text).toContain('/briefly settings');
    expect(text).toContain('/reps add');
  });

  it('when the subcommand is unknown, then the answer says so and shows help', async () => {
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'dance',
      user_id: ADMIN_USER,
    });
    expect(JSON.stringify(res.json().blocks)).toContain("I don't know `dance`");
  });

  it('when a non-admin runs /briefly settings, then they are told only admins may', async () => {
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'settings',
      user_id: 'UNOBODY001',
    });
    expect(res.json().text).toMatch(/Only Briefly admins/);
  });

  it('when an admin saves settings, then the channels are stored and shown prefilled next time', async () => {
    const open = slackApi('views.open');
    await slashCommand(svc.web, { command: COMMANDS.briefly, text: 'settings', user_id: ADMIN_USER });
    await vi.waitFor(() => expect(open.scope.isDone()).toBe(true));
    expect((open.captured[0] as { view: { callback_id: string } }).view.callback_id).toBe(
      CALLBACKS.settingsForm,
    );

    // The bot is already in both channels: each is checked, none joined.
    for (const id of ['C0ALERTS01', 'C0STATS001']) {
      nock(SLACK_HOST)
        .post('/api/conversations.info', (body) => decodeSlackBody(body).channel === id)
        .reply(200, {
          ok: true,
          channel: { id, name: 'x', is_private: false, is_archived: false, is_member: true },
        });
    }
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.settingsForm,
        values: {
          [SETTINGS_FORM_BLOCKS.alert_channel]: {
            value: { type: 'conversations_select', selected_conversation: 'C0ALERTS01' },
          },
          [SETTINGS_FORM_BLOCKS.stats_channel]: {
            value: { type: 'conversations_select', selected_conversation: 'C0STATS001' },
          },
          [SETTINGS_FORM_BLOCKS.approvals_channel]: {
            value: { type: 'conversations_select', selected_conversation: null },
          },
        },
      }),
    );
    expect(res.statusCode).toBe(200);
    const { rows } = await svc.db.query('SELECT key, value FROM settings ORDER BY key');
    expect(rows).toEqual([
      { key: 'alert_channel', value: 'C0ALERTS01' },
      { key: 'stats_channel', value: 'C0STATS001' },
    ]);

    const again = slackApi('views.open');
    await slashCommand(svc.web, { command: COMMANDS.briefly, text: 'settings', user_id: ADMIN_USER });
    await vi.waitFor(() => expect(again.scope.isDone()).toBe(true));
    const blocks = (
      again.captured[0] as { view: { blocks: { element?: { initial_conversation?: string } }[] } }
    ).view.blocks;
    // The channel fields (the Daily stats channels button that follows them has no element).
    expect(blocks.flatMap((b) => (b.element ? [b.element.initial_conversation] : []))).toEqual([
      'C0ALERTS01',
      'C0STATS001',
      undefined,
      // The mailout managers' user select has no conversation.
      undefined,
    ]);
  });

  it('when a settings value is not a channel id, then the field gets an inline error', async () => {
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.settingsForm,
        values: {
          [SETTINGS_FORM_BLOCKS.alert_channel]: {
            value: { type: 'conversations_select', selected_conversation: 'nope' },
          },
        },
      }),
    );
    expect(res.json()).toEqual({
      response_action: 'errors',
      errors: {
        [SETTINGS_FORM_BLOCKS.alert_channel]: expect.stringMatching(
          /Alert channel must be a Slack channel id/,
        ),
      },
    });
  });
});

describe('App Home', () => {
  it('when a rep opens the Home tab, then it shows their settings and what Briefly will do', async () => {
    await svc.db.query(
      `INSERT INTO reps (name, email, time_zone, slack_user_id, briefing_time) VALUES ('Cleo', 'cleo@acme.com', 'Australia/Lord_Howe', 'UCLEO00001', '07:45')`,
    );
    const publish = slackApi('views.publish');
    const res = await event(svc.web, {
      type: 'app_home_opened',
      user: 'UCLEO00001',
      channel: 'D0001',
      tab: 'home',
    });
    expect(res.statusCode).toBe(200);
    await vi.waitFor(() => expect(publish.scope.isDone()).toBe(true));
    const sent = publish.captured[0] as { user_id: string; view: { type: string; blocks: unknown[] } };
    expect(sent.user_id).toBe('UCLEO00001');
    expect(sent.view.type).toBe('home');
    const text = JSON.stringify(sent.view.blocks);
    expect(text).toContain('cleo@acme.com');
    expect(text).toContain('07:45');
    expect(text).toContain('Australia/Lord_Howe');
    expect(text).toContain('not connected yet');
    expect(text).toContain('/briefing connect google');
    expect(sent.view).toMatchSnapshot();
  });

  it('when the rep’s calendar connection is broken, then Home says so and how to reconnect', async () => {
    const { rows } = await svc.db.query(
      `INSERT INTO reps (name, email, time_zone, slack_user_id) VALUES ('Dev', 'dev@acme.com', 'UTC', 'UDEV000001') RETURNING id`,
    );
    await svc.db.query(
      `INSERT INTO calendar_connections (rep_id, provider, auth_kind, status, broken_reason)
       VALUES ($1, 'microsoft', 'app', 'broken', 'consent was withdrawn')`,
      [rows[0].id],
    );
    const publish = slackApi('views.publish');
    await event(svc.web, { type: 'app_home_opened', user: 'UDEV000001', channel: 'D0003', tab: 'home' });
    await vi.waitFor(() => expect(publish.scope.isDone()).toBe(true));
    const text = JSON.stringify(publish.captured[0]);
    expect(text).toContain('not working');
    expect(text).toContain('consent was withdrawn');
    expect(text).toContain('/briefing connect microsoft');
  });

  it('when someone who is not a rep opens Home, then it says how to get set up', async () => {
    const publish = slackApi('views.publish');
    await event(svc.web, { type: 'app_home_opened', user: 'UNOBODY001', channel: 'D0002', tab: 'home' });
    await vi.waitFor(() => expect(publish.scope.isDone()).toBe(true));
    expect(JSON.stringify(publish.captured[0])).toContain('not set up as a rep yet');
  });
});
