import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACTIONS, CALLBACKS, COMMANDS, INPUT_ACTION, TEST_EMAIL_BLOCKS } from '../../blocks/ids.ts';
import { ADMIN_USER, SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';
import {
  blockAction,
  fakeAuthTest,
  interaction,
  slackApi,
  slashCommand,
  viewSubmission,
} from '../helpers/slack.ts';

const MANAGER = 'UMANAGER01';
const RESPONSE_PATH = '/actions/T0001/1/response';
let svc: TestService;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  // No provider configured: the development file outbox sends at once.
  svc = await startTestService({ MESSAGE_ID_DOMAIN: 'mail.acme.test' });
  await svc.reps.create(
    {
      name: 'Mia Manager',
      email: 'mia@acme.test',
      time_zone: 'Europe/Berlin',
      role: 'manager',
      slack_user_id: MANAGER,
    },
    { id: 'test' },
  );
});
beforeEach(() => fakeAuthTest());
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

/** Captures what is posted to the interaction's response_url. */
function responseUrl() {
  const posts: Record<string, unknown>[] = [];
  nock(SLACK_HOST)
    .persist()
    .post(RESPONSE_PATH, (body) => {
      posts.push(body as Record<string, unknown>);
      return true;
    })
    .reply(200, 'ok');
  return posts;
}

const submission = (user: string, values: { recipient: string; address?: string; subject?: string }) =>
  viewSubmission(user, {
    callback_id: CALLBACKS.sendTestEmail,
    private_metadata: JSON.stringify({ responseUrl: `${SLACK_HOST}${RESPONSE_PATH}` }),
    values: {
      [TEST_EMAIL_BLOCKS.recipient]: {
        [INPUT_ACTION]: { type: 'radio_buttons', selected_option: { value: values.recipient } },
      },
      [TEST_EMAIL_BLOCKS.address]: {
        [INPUT_ACTION]: { type: 'email_text_input', value: values.address ?? null },
      },
      [TEST_EMAIL_BLOCKS.subject]: {
        [INPUT_ACTION]: { type: 'plain_text_input', value: values.subject ?? null },
      },
    },
  });

const hasButton = (blocks: unknown, actionId: string) =>
  JSON.stringify(blocks).includes(`"action_id":"${actionId}"`);

describe('Send test email from /briefly deliveries', () => {
  it('when an admin opens deliveries, then the button is there; a manager does not get it', async () => {
    const admin = (
      await slashCommand(svc.web, { command: COMMANDS.briefly, text: 'deliveries', user_id: ADMIN_USER })
    ).json();
    expect(hasButton(admin.blocks, ACTIONS.testEmailOpen)).toBe(true);
    const manager = (
      await slashCommand(svc.web, { command: COMMANDS.briefly, text: 'deliveries', user_id: MANAGER })
    ).json();
    expect(manager.blocks).toBeDefined();
    expect(hasButton(manager.blocks, ACTIONS.testEmailOpen)).toBe(false);
  });

  it('when an admin clicks it, then the modal opens carrying the response_url; a manager is refused', async () => {
    const open = slackApi('views.open');
    const res = await interaction(
      svc.web,
      blockAction(ADMIN_USER, { action_id: ACTIONS.testEmailOpen, value: 'open' }),
    );
    expect(res.statusCode).toBe(200);
    await vi.waitFor(() => expect(open.captured).toHaveLength(1));
    const view = open.captured[0]?.view as {
      callback_id: string;
      private_metadata: string;
      blocks: unknown[];
    };
    expect(view.callback_id).toBe(CALLBACKS.sendTestEmail);
    expect(JSON.parse(view.private_metadata)).toEqual({ responseUrl: `${SLACK_HOST}${RESPONSE_PATH}` });
    expect(JSON.stringify(view.blocks)).toContain(TEST_EMAIL_BLOCKS.address);

    const posts = responseUrl();
    await interaction(svc.web, blockAction(MANAGER, { action_id: ACTIONS.testEmailOpen, value: 'open' }));
    await vi.waitFor(() => expect(posts).toHaveLength(1));
    expect(posts[0]).toMatchObject({ text: 'Only Briefly admins can send test emails.' });
  });

  it('when "Another address" is submitted without a valid address, then the field shows the error', async () => {
    const res = await interaction(svc.web, submission(ADMIN_USER, { recipient: 'address', address: 'nope' }));
    expect(res.json()).toEqual({
      response_action: 'errors',
      errors: { [TEST_EMAIL_BLOCKS.address]: 'Give an email address such as ana@example.com' },
    });
    const manager = await interaction(
      svc.web,
      submission(MANAGER, { recipient: 'address', address: 'a@b.test' }),
    );
    expect(manager.json().response_action).toBe('errors');
    expect(
      Number((await svc.db.query("SELECT count(*) FROM messages WHERE kind = 'test'")).rows[0].count),
    ).toBe(0);
  });

  it('when an admin sends to an address, then the card shows the id and is replaced in place as the status moves', async () => {
    const posts = responseUrl();
    const res = await interaction(
      svc.web,
      submission(ADMIN_USER, { recipient: 'address', address: 'ana@client.test', subject: 'Smoke test' }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    await vi.waitFor(
      () => expect(posts.some((p) => JSON.stringify(p).includes('*sent* via file-outbox'))).toBe(true),
      { timeout: 10_000 },
    );
    const { rows } = await svc.db.query(
      'SELECT id, subject, "to", message_id_header, status FROM messages WHERE kind = \'test\'',
    );
    expect(rows).toHaveLength(1);
    const message = rows[0];
    expect(message).toMatchObject({
      subject: 'Smoke test',
      to: [{ email: 'ana@client.test' }],
      status: 'sent',
    });
    expect(posts.every((p) => p.replace_original === true)).toBe(true);
    const first = JSON.stringify(posts[0]);
    expect(first).toContain(`Message \`${message.id}\``);
    expect(first).toContain(message.message_id_header.replace('<', '&lt;').replace('>', '&gt;'));
    expect(first).toContain('Test email to *ana@client.test*');
    expect(hasButton((posts.at(-1) as { blocks: unknown }).blocks, ACTIONS.testEmailRefresh)).toBe(true);
    expect(posts.length).toBeLessThanOrEqual(4);
    // Who asked is stored with the message itself, in the same statement.
    const asked = await svc.db.query('SELECT kind, metadata FROM messages WHERE id = $1', [message.id]);
    expect(asked.rows).toEqual([{ kind: 'test', metadata: { requested_by: `slack:${ADMIN_USER}` } }]);

    const trail = (
      await slashCommand(svc.web, {
        command: COMMANDS.briefly,
        text: `message ${message.id}`,
        user_id: ADMIN_USER,
      })
    ).json();
    expect(JSON.stringify(trail.blocks)).toContain(
      `Message-ID \`${message.message_id_header.replace('<', '&lt;').replace('>', '&gt;')}\``,
    );

    // The card stopped following (settled): a click on "Refresh status" redraws it in place.
    const before = posts.length;
    await interaction(
      svc.web,
      blockAction(ADMIN_USER, { action_id: ACTIONS.testEmailRefresh, value: message.id }),
    );
    await vi.waitFor(() => expect(posts.length).toBe(before + 1));
    expect(posts.at(-1)).toMatchObject({ replace_original: true });
    expect(JSON.stringify(posts.at(-1))).toContain('*sent* via file-outbox');
  });

  it('when an admin sends to "Me", then their Slack profile email is used; without one the modal says to choose an address', async () => {
    nock(SLACK_HOST)
      .post('/api/users.info')
      .reply(200, { ok: true, user: { id: ADMIN_USER, profile: { email: 'root@acme.test' } } });
    responseUrl();
    const res = await interaction(svc.web, submission(ADMIN_USER, { recipient: 'me' }));
    expect(res.body).toBe('');
    await vi.waitFor(async () => {
      const { rows } = await svc.db.query(
        `SELECT subject FROM messages WHERE "to" @> '[{"email":"root@acme.test"}]'`,
      );
      expect(rows).toEqual([{ subject: 'Briefly test email' }]);
    });

    nock(SLACK_HOST)
      .post('/api/users.info')
      .reply(200, { ok: true, user: { id: ADMIN_USER, profile: {} } });
    const unknown = await interaction(svc.web, submission(ADMIN_USER, { recipient: 'me' }));
    expect(unknown.json().errors[TEST_EMAIL_BLOCKS.recipient]).toMatch(/choose "Another address"/);
  });
});
