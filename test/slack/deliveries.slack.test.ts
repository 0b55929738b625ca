import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS } from '../../blocks/ids.ts';
import { ADMIN_USER, apiAuth, startTestService, type TestService } from '../helpers/service.ts';
import { fakeAuthTest, slashCommand } from '../helpers/slack.ts';

const SENDGRID = 'https://sendgrid.test';
let svc: TestService;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService({
    EMAIL_PROVIDERS: 'sendgrid',
    SENDGRID_API_KEY: 'SG.test-key-0123456789',
    SENDGRID_BASE_URL: SENDGRID,
  });
});
beforeEach(() => fakeAuthTest());
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

describe('/briefly deliveries and /briefly message', () => {
  it('when a rep who is not a manager asks, then they are told only admins and managers may', async () => {
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'deliveries',
      user_id: 'UNOBODY001',
    });
    expect(res.json().text).toMatch(/admins and managers/);
  });

  it('when an admin asks after a send, then provider state, queue and the last 24 h by status are shown, and the message trail by id', async () => {
    nock(SENDGRID).post('/v3/mail/send').reply(202, '', { 'X-Message-Id': 'sg-1' });
    const auth = await apiAuth(svc);
    const { id } = (
      await svc.web.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: auth,
        payload: { to: ['ana@client.test'], subject: 'Quarterly review', text: 'x' },
      })
    ).json();
    await vi.waitFor(async () => {
      const { rows } = await svc.db.query('SELECT status FROM messages WHERE id = $1', [id]);
      expect(rows[0].status).toBe('sent');
    });

    const overview = (
      await slashCommand(svc.web, { command: COMMANDS.briefly, text: 'deliveries', user_id: ADMIN_USER })
    ).json();
    expect(overview.response_type).toBe('ephemeral');
    const text = JSON.stringify(overview.blocks);
    expect(text).toContain('*sendgrid* (primary): sending');
    expect(text).toContain('sent *1*');
    expect(text).toMatch(/waiting \d+/);

    const trail = (
      await slashCommand(svc.web, { command: COMMANDS.briefly, text: `message ${id}`, user_id: ADMIN_USER })
    ).json();
    const trailText = JSON.stringify(trail.blocks);
    expect(trailText).toContain('Quarterly review');
    expect(trailText).toContain('*sent* via sendgrid');
  });

  it('when the id is missing, malformed or unknown, then the answer says what to give', async () => {
    const missing = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'message',
      user_id: ADMIN_USER,
    });
    expect(missing.json().text).toMatch(/Give a message id/);
    const bad = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'message 42',
      user_id: ADMIN_USER,
    });
    expect(bad.json().text).toMatch(/"42" is not one/);
    const unknown = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'message 00000000-0000-4000-8000-000000000000',
      user_id: ADMIN_USER,
    });
    expect(unknown.json().text).toMatch(/No message/);
  });
});
