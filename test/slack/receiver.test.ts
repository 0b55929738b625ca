import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../blocks/ids.ts';
import { slackSignature, verifySlackSignature } from '../../src/slack/signature.ts';
import {
  ADMIN_USER,
  SIGNING_SECRET,
  SLACK_HOST,
  startTestService,
  type TestService,
} from '../helpers/service.ts';
import { fakeAuthTest, postSlack, slashCommand } from '../helpers/slack.ts';

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

describe('Slack request signing', () => {
  it("when given Slack's documented example, then the signature matches Slack's", () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(slackSignature('8f742231b10e8888abcd99yyyzzz85a5', '1531420618', body)).toBe(
      'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    );
  });

  it('when the timestamp is 301 s old, then verification fails naming the timestamp', () => {
    const verdict = verifySlackSignature({
      signingSecret: 's',
      timestamp: '1000',
      signature: slackSignature('s', '1000', 'x'),
      rawBody: Buffer.from('x'),
      nowSeconds: 1301,
    });
    expect(verdict).toEqual({ ok: false, reason: expect.stringContaining('X-Slack-Request-Timestamp') });
  });

  it('when a request is signed with the wrong secret, then it is rejected with 401 and no handler runs', async () => {
    const res = await slashCommand(
      svc.web,
      { command: COMMANDS.briefly, user_id: ADMIN_USER },
      { secret: 'wrong' },
    );
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/does not match/);
  });

  it('when the timestamp is older than 5 minutes, then the request is rejected with 401', async () => {
    const res = await slashCommand(
      svc.web,
      { command: COMMANDS.briefly, user_id: ADMIN_USER },
      { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
    );
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/5 minutes/);
  });

  it('when the timestamp is more than 5 minutes in the future, then the request is rejected with 401', async () => {
    const res = await slashCommand(
      svc.web,
      { command: COMMANDS.briefly, user_id: ADMIN_USER },
      { timestamp: Math.floor(Date.now() / 1000) + 6 * 60 },
    );
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/5 minutes/);
  });

  it('when the raw body is not valid UTF-8, then it cannot match and is rejected with 401', async () => {
    const raw = Buffer.concat([Buffer.from('command=%2Fbriefly&text='), Buffer.from([0xff, 0xfe])]);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const res = await svc.web.inject({
      method: 'POST',
      url: '/slack/events',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': timestamp,
        'x-slack-signature': slackSignature(SIGNING_SECRET, timestamp, raw),
      },
      payload: raw,
    });
    expect(res.statusCode).toBe(401);
  });

  it('when many signed requests arrive, then the bot identity is looked up with auth.test at most once', async () => {
    nock.cleanAll();
    let authTests = 0;
    nock(SLACK_HOST)
      .persist()
      .post('/api/auth.test')
      .reply(() => {
        authTests++;
        return [200, { ok: true, user_id: 'UBOT000001', bot_id: 'B0BOT00001', team_id: 'T0001' }];
      });
    for (let i = 0; i < 5; i++) {
      const res = await slashCommand(svc.web, { command: COMMANDS.briefly, user_id: ADMIN_USER });
      expect(res.statusCode).toBe(200);
    }
    expect(authTests).toBeLessThanOrEqual(1);
  });

  it('when the signature headers are missing, then the request is rejected with 401', async () => {
    const res = await svc.web.inject({
      method: 'POST',
      url: '/slack/events',
      payload: 'command=%2Fbriefly',
    });
    expect(res.statusCode).toBe(401);
  });

  it('when a signed interaction payload is not JSON, then the answer is 400 naming the payload field', async () => {
    const res = await postSlack(svc.web, 'payload=%7Bnot-json', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/"payload" field is not valid JSON/);
  });

  it('when a signed command or interaction carries a NUL or an unpaired surrogate, then 400 names the field and no listener runs', async () => {
    const command = await slashCommand(svc.web, {
      command: COMMANDS.briefly,
      text: 'help\u0000',
      user_id: ADMIN_USER,
    });
    expect(command.statusCode).toBe(400);
    expect(command.json().message).toBe('text must not contain NUL (\\u0000) characters');
    const form = new URLSearchParams({
      payload: JSON.stringify({ type: 'view_submission', view: { title: 'x\ud800' } }),
    });
    const view = await postSlack(svc.web, form.toString(), 'application/x-www-form-urlencoded');
    expect(view.statusCode).toBe(400);
    expect(view.json().message).toMatch(/^view\.title must be valid Unicode/);
  });

  it('when a signed body is neither a command nor an interaction, then the answer is 400', async () => {
    const res = await postSlack(svc.web, 'hello=world', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(400);
  });

  it('when Slack verifies the events URL, then the challenge is echoed', async () => {
    const res = await postSlack(
      svc.web,
      JSON.stringify({ type: 'url_verification', challenge: 'abc123', token: 'x' }),
      'application/json',
    );
    expect(res.json()).toEqual({ challenge: 'abc123' });
  });

  it('when Slack sends an ssl_check, then the answer is an empty 200', async () => {
    const res = await postSlack(svc.web, 'ssl_check=1&token=x', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(200);
  });
});
